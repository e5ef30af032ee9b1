package proxy

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/testkit"
)

const preauthCaps = "IMAP4rev1 IMAP4rev2 AUTH=PLAIN AUTH=LOGIN SASL-IR LITERAL+ ID"

func (d *deployment) hostAddr(ip string, proto int) string {
	return net.JoinHostPort(ip, strconv.Itoa(d.ports[proto]))
}

// loginsAt returns the records of IMAP logins on a host.
func loginsAt(h *host, msg string) []testkit.Record { return h.logs.Records(msg) }

// TestIMAPThroughProxy: before login the proxy answers itself; the login,
// SELECT and IDLE then go to the first host of the user's group, and
// every response the client gets is the one the host sends a direct
// client, whole. The host logs the client's address, not the proxy's.
func TestIMAPThroughProxy(t *testing.T) {
	d := deploy(t, deployOptions{})
	c := dial(t, d.imap)
	c.expect("* OK [CAPABILITY " + preauthCaps + "] proxy.test Quire IMAP proxy ready")
	c.send("a CAPABILITY")
	c.expect("* CAPABILITY "+preauthCaps, "a OK CAPABILITY completed")
	c.send("b SELECT INBOX")
	c.expect("b BAD SELECT needs a login first")
	c.send(`i ID ("name" "test-client")`)
	c.expect(`* ID ("name" "Quire" "vendor" "Quire" "support-url" "https://github.com/quiremail/quire")`, "i OK ID completed")

	direct := dial(t, d.hostAddr("127.0.0.2", 0))
	direct.line()
	for _, cmd := range []string{"c LOGIN " + d.alice.Address + " " + d.pass, "d SELECT INBOX"} {
		tag := cmd[:2]
		c.send("%s", cmd)
		direct.send("%s", cmd)
		got, want := c.until(tag), direct.until(tag)
		if !slices.Equal(got, want) {
			t.Fatalf("%s through the proxy:\n%q\ndirect:\n%q", cmd, got, want)
		}
		if !strings.HasPrefix(got[len(got)-1], tag+"OK") {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	recs := loginsAt(d.hosts["127.0.0.2"], "imap: logged in")
	var proxied []testkit.Record
	for _, r := range recs {
		if r.Attrs["proxy"] != "" {
			proxied = append(proxied, r)
		}
	}
	if len(proxied) != 1 || proxied[0].Attrs["remote"] != c.nc.LocalAddr().String() || proxied[0].Attrs["user"] != d.alice.Address ||
		!strings.HasPrefix(proxied[0].Attrs["proxy_session"], "p") {
		t.Fatalf("the host's login records: %v; want one naming the client %s, through the proxy", recs, c.nc.LocalAddr())
	}
	if n := len(loginsAt(d.hosts["127.0.0.3"], "imap: logged in")); n != 0 {
		t.Fatalf("the group's second host served %d logins while the first is up", n)
	}

	// IDLE through the proxy is woken by a delivery through the proxy.
	c.send("e IDLE")
	c.expect("+ idling")
	l := dial(t, d.lmtp)
	l.expect("220 proxy.test Quire LMTP proxy ready")
	l.send("LHLO mta.test")
	l.until("250 ")
	l.send("MAIL FROM:<s@remote.test>")
	l.send("RCPT TO:<%s>", d.alice.Address)
	l.expect("250 2.1.0 sender <s@remote.test> ok", "250 2.1.5 <"+d.alice.Address+"> ok")
	l.send("DATA")
	l.expect("354 start mail input; end with <CRLF>.<CRLF>")
	l.send("Subject: wake\r\n\r\nhello\r\n.")
	l.expect("250 2.0.0 <" + d.alice.Address + "> delivered")
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if got := c.until("* 1 EXISTS"); len(got) > 2 {
		t.Fatalf("IDLE through the proxy: %q", got)
	}
	c.send("DONE")
	c.until("e OK")
}

// TestIMAPFailover: the first host of a group dies; the next login goes
// to the second without an error, and the dead host is skipped (one
// warning, no second connection attempt within host_retry).
func TestIMAPFailover(t *testing.T) {
	d := deploy(t, deployOptions{})
	d.hosts["127.0.0.2"].stop()
	for i := range 2 {
		c := dial(t, d.imap)
		c.line()
		c.send("a LOGIN %s %s", d.alice.Address, d.pass)
		if got := c.until("a "); !strings.HasPrefix(got[len(got)-1], "a OK [CAPABILITY ") {
			t.Fatalf("login %d after the first host died: %q", i+1, got)
		}
		c.send("b SELECT INBOX")
		c.until("b OK")
	}
	if n := len(loginsAt(d.hosts["127.0.0.3"], "imap: logged in")); n != 2 {
		t.Fatalf("second host served %d logins, want 2", n)
	}
	if n := len(d.logs.Records("proxy: access host down; skipped for proxy.host_retry, the next host of its group serves")); n != 1 {
		t.Fatalf("%d warnings about the dead host, want 1 (then it is skipped)", n)
	}
}

// TestIMAPLoginRefusals: a wrong password is the host's refusal, an
// unknown user the proxy's, with the same words; a user whose mailHost
// names no group, with no default group, is refused as temporary.
func TestIMAPLoginRefusals(t *testing.T) {
	d := deploy(t, deployOptions{})
	c := dial(t, d.imap)
	c.line()
	c.send("a LOGIN %s wrong", d.alice.Address)
	c.expect("a NO [AUTHENTICATIONFAILED] Authentication failed")
	c.send("b LOGIN nobody@test.quire wrong")
	c.expect("b NO [AUTHENTICATIONFAILED] Authentication failed")
	c.send("c LOGIN %s %s", d.carol.Address, d.pass)
	c.expect("c NO [UNAVAILABLE] This account cannot be routed to its server; the failure was logged")
	c.send("d AUTHENTICATE CRAM-MD5")
	c.expect("d NO [CANNOT] Unsupported SASL mechanism CRAM-MD5; use PLAIN or LOGIN")
	// AUTHENTICATE PLAIN without an initial response: a continuation, then
	// the host's answer.
	c.send("e AUTHENTICATE PLAIN")
	c.expect("+ ")
	c.send("%s", b64("\x00"+d.alice.Address+"\x00"+d.pass))
	if got := c.until("e "); !strings.HasPrefix(got[len(got)-1], "e OK [CAPABILITY ") {
		t.Fatalf("AUTHENTICATE PLAIN: %q", got)
	}
}

// TestUnknownUserChecked: with proxy.login = "user" a login the proxy
// refuses as unknown (LOGIN, AUTHENTICATE PLAIN with an unknown
// authorization identity, POP3 USER/PASS) runs the password check a
// known user's wrong password gets at the access host, once, with the
// client's password; a known user's lookup is seen (its hash scheme is
// what the check follows) and checks nothing at the proxy. The answers
// are the same words as a wrong password's.
func TestUnknownUserChecked(t *testing.T) {
	d := deploy(t, deployOptions{})
	c := dial(t, d.imap)
	c.line()
	c.send("a LOGIN %s wrong", d.alice.Address)
	c.expect("a NO [AUTHENTICATIONFAILED] Authentication failed")
	checked, seen := d.unknowns.take()
	if len(checked) != 0 || len(seen) != 1 || seen[0] != d.alice.Address {
		t.Fatalf("wrong password of a known user: checked %q, seen %q; want none and %s", checked, seen, d.alice.Address)
	}
	c.send("b LOGIN nobody@test.quire guess1")
	c.expect("b NO [AUTHENTICATIONFAILED] Authentication failed")
	c.send("c AUTHENTICATE PLAIN %s", b64("ghost@test.quire\x00"+d.alice.Address+"\x00guess2"))
	c.expect("c NO [AUTHENTICATIONFAILED] Authentication failed")
	p := dial(t, d.pop3)
	p.line()
	p.send("USER nobody@test.quire")
	p.line()
	p.send("PASS guess3")
	p.expect("-ERR [AUTH] authentication failed")
	checked, seen = d.unknowns.take()
	want := []string{"nobody@test.quire/guess1", d.alice.Address + "/guess2", "nobody@test.quire/guess3"}
	if fmt.Sprint(checked) != fmt.Sprint(want) || len(seen) != 0 {
		t.Fatalf("unknown users: checked %q, seen %q; want %q and none", checked, seen, want)
	}
}

// TestIMAPMechanisms: the proxy offers the SASL mechanisms the access
// hosts offer (PLAIN and LOGIN) and answers each exchange, its refusals
// and mistakes as the host does, line for line; a mechanism neither
// offers gets the host's words. In both login modes, AUTHENTICATE LOGIN
// logs in at the host.
func TestIMAPMechanisms(t *testing.T) {
	for _, adminMode := range []bool{false, true} {
		d := deploy(t, deployOptions{adminMode: adminMode})
		c, direct := dial(t, d.imap), dial(t, d.hostAddr("127.0.0.2", 0))
		c.line()
		direct.line()
		// Each exchange: the lines sent, one at a time, and the lines read
		// after each (through the proxy and directly, the same).
		same := func(tag string, lines ...string) []string {
			t.Helper()
			var got []string
			for i, l := range lines {
				c.send("%s", l)
				direct.send("%s", l)
				var p, q []string
				if i < len(lines)-1 {
					p, q = []string{c.line()}, []string{direct.line()}
				} else {
					p, q = c.until(tag+" "), direct.until(tag+" ")
				}
				if !slices.Equal(p, q) {
					t.Fatalf("admin mode %v, %q: through the proxy %q, directly %q", adminMode, l, p, q)
				}
				got = append(got, p...)
			}
			return got
		}
		user, wrong, right := b64(d.alice.Address), b64("wrong"), b64(d.pass)
		for _, ex := range []struct {
			tag   string
			lines []string
			want  []string
		}{
			{"a", []string{"a AUTHENTICATE CRAM-MD5"}, []string{"a NO [CANNOT] Unsupported SASL mechanism CRAM-MD5; use PLAIN or LOGIN"}},
			{"b", []string{"b AUTHENTICATE SCRAM-SHA-256 " + b64("n,,n=x,r=abc")}, []string{"b NO [CANNOT] Unsupported SASL mechanism SCRAM-SHA-256; use PLAIN or LOGIN"}},
			{"c", []string{"c AUTHENTICATE LOGIN " + user}, []string{"c BAD AUTHENTICATE LOGIN takes no initial response"}},
			{"d", []string{"d AUTHENTICATE LOGIN", "*"}, []string{"+ VXNlcm5hbWU6", "d BAD AUTHENTICATE cancelled"}},
			{"e", []string{"e AUTHENTICATE LOGIN", user, "*"}, []string{"+ VXNlcm5hbWU6", "+ UGFzc3dvcmQ6", "e BAD AUTHENTICATE cancelled"}},
			{"f", []string{"f AUTHENTICATE LOGIN", "!!"}, []string{"+ VXNlcm5hbWU6", "f BAD SASL response is not valid base64"}},
			{"g", []string{"g AUTHENTICATE LOGIN", user, wrong}, []string{"+ VXNlcm5hbWU6", "+ UGFzc3dvcmQ6", "g NO [AUTHENTICATIONFAILED] Authentication failed"}},
			{"h", []string{"h AUTHENTICATE PLAIN", "*"}, []string{"+ ", "h BAD AUTHENTICATE cancelled"}},
		} {
			if got := same(ex.tag, ex.lines...); !slices.Equal(got, ex.want) {
				t.Fatalf("admin mode %v: %q: %q, want %q", adminMode, ex.lines, got, ex.want)
			}
		}
		// A login: the host's whole answer, with the capabilities after
		// login, passed on.
		got := same("i", "i AUTHENTICATE LOGIN", user, right)
		if len(got) != 3 || got[0] != "+ VXNlcm5hbWU6" || got[1] != "+ UGFzc3dvcmQ6" || !strings.HasPrefix(got[2], "i OK [CAPABILITY IMAP4rev1 ") ||
			!strings.HasSuffix(got[2], "] Logged in") {
			t.Fatalf("admin mode %v: AUTHENTICATE LOGIN: %q", adminMode, got)
		}
	}
}

// TestServiceAdminLogin: with proxy.login = "service_admin" the proxy
// checks the password itself, and logs in at the host as the
// administrator with the user as authorization identity; a wrong
// password never reaches a host.
func TestServiceAdminLogin(t *testing.T) {
	d := deploy(t, deployOptions{adminMode: true})
	c := dial(t, d.imap)
	c.line()
	c.send("a LOGIN %s wrong", d.bob.Address)
	c.expect("a NO [AUTHENTICATIONFAILED] Authentication failed")
	if n := d.hosts["127.0.0.4"].imap.Connections().Accepted; n != 0 {
		t.Fatalf("a wrong password reached the host (%d connections)", n)
	}
	c.send("b LOGIN %s %s", d.bob.Address, d.pass)
	if got := c.until("b "); !strings.HasPrefix(got[len(got)-1], "b OK [CAPABILITY ") {
		t.Fatalf("login: %q", got)
	}
	recs := loginsAt(d.hosts["127.0.0.4"], "imap: logged in")
	if len(recs) != 1 || recs[0].Attrs["user"] != d.bob.Address || recs[0].Attrs["authcid"] != d.admin.Address {
		t.Fatalf("host's login records %v: want bob's store opened by the administrator", recs)
	}
}

// TestReferral: an access host asked to log in a user of another group
// refers IMAP to that group (RFC 2221) and refuses POP3 naming it; both
// only after the password was checked.
func TestReferral(t *testing.T) {
	d := deploy(t, deployOptions{})
	c := dial(t, d.hostAddr("127.0.0.2", 0))
	c.expect("* OK [CAPABILITY IMAP4rev1 IMAP4rev2 AUTH=PLAIN AUTH=LOGIN SASL-IR LOGIN-REFERRALS LITERAL+ ID ENABLE IDLE NAMESPACE UNSELECT] 127.0.0.2 Quire IMAP4rev2 ready")
	c.send("a LOGIN %s wrong", d.bob.Address)
	c.expect("a NO [AUTHENTICATIONFAILED] Authentication failed")
	c.send("b LOGIN %s %s", d.bob.Address, d.pass)
	c.expect("b NO [REFERRAL imap://" + strings.Replace(d.bob.Address, "@", "%40", 1) + "@127.0.0.4/] This account is served by store affinity group west; try 127.0.0.4")
	c.send("c LOGIN %s %s", d.alice.Address, d.pass)
	if got := c.until("c "); !strings.HasPrefix(got[len(got)-1], "c OK") {
		t.Fatalf("a user of the host's own group: %q", got)
	}

	p := dial(t, d.hostAddr("127.0.0.2", 1))
	p.expect("+OK 127.0.0.2 Quire POP3 ready")
	p.send("USER %s", d.bob.Address)
	p.expect("+OK send PASS")
	p.send("PASS %s", d.pass)
	p.expect("-ERR [SYS/TEMP] this account is served by store affinity group west (127.0.0.4); connect there or through the proxy")
}

// TestPOP3ThroughProxy: USER/PASS and AUTH PLAIN go to the user's group;
// the host learns the client's address by XCLIENT; the maildrop is the
// host's, whole.
func TestPOP3ThroughProxy(t *testing.T) {
	d := deploy(t, deployOptions{})
	c := dial(t, d.pop3)
	c.expect("+OK proxy.test Quire POP3 proxy ready")
	c.send("CAPA")
	c.expect("+OK capability list follows", "TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION Quire-proxy", "USER", "SASL PLAIN", ".")
	c.send("STAT")
	c.expect("-ERR STAT needs a login first")
	c.send("USER %s", d.bob.Address)
	c.expect("+OK send PASS")
	c.send("PASS wrong")
	c.expect("-ERR [AUTH] authentication failed")
	c.send("AUTH PLAIN %s", b64("\x00"+d.bob.Address+"\x00"+d.pass))
	c.expect("+OK maildrop has 0 messages (0 octets)")
	c.send("STAT")
	c.expect("+OK 0 0")
	c.send("QUIT")
	c.until("+OK")
	recs := d.hosts["127.0.0.4"].logs.Records("pop3: logged in")
	if len(recs) != 1 || recs[0].Attrs["remote"] != c.nc.LocalAddr().String() || recs[0].Attrs["proxy"] == "" {
		t.Fatalf("host's POP3 login records %v: want the client %s, through the proxy", recs, c.nc.LocalAddr())
	}
}

// TestLMTPSplitsByGroup: one transaction with recipients of both groups
// and an unknown one: replies per recipient in order; with the west
// group's only host down its recipient gets 451, the others 250.
func TestLMTPSplitsByGroup(t *testing.T) {
	d := deploy(t, deployOptions{})
	send := func(rcpts []string, wantRcpt, wantData []string) {
		t.Helper()
		l := dial(t, d.lmtp)
		l.line()
		l.send("LHLO mta.test")
		l.expect("250-proxy.test", "250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-8BITMIME", "250-SIZE", "250 SMTPUTF8")
		l.send("MAIL FROM:<s@remote.test> BODY=8BITMIME")
		for _, r := range rcpts {
			l.send("RCPT TO:<%s>", r)
		}
		l.send("DATA")
		l.expect("250 2.1.0 sender <s@remote.test> ok")
		l.expect(wantRcpt...)
		l.expect("354 start mail input; end with <CRLF>.<CRLF>")
		l.send("Subject: split\r\n\r\n..dot-stuffed line\r\nbare\nlf\r\n.")
		l.expect(wantData...)
	}
	a, b := d.alice.Address, d.bob.Address
	send([]string{b, "nobody@test.quire", a},
		[]string{"250 2.1.5 <" + b + "> ok", "550 5.1.1 <nobody@test.quire>: no such user here", "250 2.1.5 <" + a + "> ok"},
		[]string{"250 2.0.0 <" + b + "> delivered", "250 2.0.0 <" + a + "> delivered"})
	d.hosts["127.0.0.4"].stop()
	send([]string{b, a},
		[]string{"250 2.1.5 <" + b + "> ok", "250 2.1.5 <" + a + "> ok"},
		[]string{"451 4.4.1 <" + b + ">: no server of the recipient's store affinity group answers, try again later", "250 2.0.0 <" + a + "> delivered"})
	// The body reached the store byte for byte: the stuffed dot removed
	// once, the bare LF kept.
	mb, err := d.st.Mailbox(t.Context(), d.alice, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	err = d.st.Messages(t.Context(), mb, 1, 0, func(row store.MessageRow) error {
		blob, err := d.st.OpenBody(t.Context(), row.Meta)
		if err != nil {
			return err
		}
		defer blob.Close()
		buf := make([]byte, blob.Size())
		_, err = blob.ReadAt(buf, 0)
		bodies = append(bodies, string(buf))
		return err
	})
	want := "Subject: split\r\n\r\n.dot-stuffed line\r\nbare\nlf\r\n"
	if err != nil || len(bodies) != 2 || bodies[0] != want || bodies[1] != want {
		t.Fatalf("alice's messages: %q, %v; want two of %q", bodies, err, want)
	}
}
