package ldapdir

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/account"
	"github.com/quiremail/quire/internal/imapserver"
	"github.com/quiremail/quire/internal/lmtpserver"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/pop3server"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// imapClient is a scripted IMAP session.
type imapClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	n  int
}

func dialIMAP(t *testing.T, addr string) *imapClient {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &imapClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.line() // greeting
	return c
}

func (c *imapClient) line() string {
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimRight(l, "\r\n")
}

// do sends a command and returns its untagged lines and its tagged reply
// without the tag.
func (c *imapClient) do(format string, args ...any) (untagged []string, tagged string) {
	c.n++
	tag := fmt.Sprintf("a%d", c.n)
	fmt.Fprintf(c.nc, tag+" "+format+"\r\n", args...)
	for {
		l := c.line()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			return untagged, rest
		}
		untagged = append(untagged, l)
	}
}

func plain(authz, authc, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + authc + "\x00" + pw))
}

// TestIMAPOnLDAP: IMAP logins against a real slapd, on the embedded
// store: a login by alias, a wrong password, a suspended account, a user
// new to the store (mailboxes made at first login, or at first delivery
// with mailHost and quota from LDAP), and a service administrator opening
// another user's store with SASL PLAIN's authorization identity, which a
// user who is not one cannot.
func TestIMAPOnLDAP(t *testing.T) {
	f := newFixture(t, []person{alice, ops, sus, odd}, "ops")
	dir := f.dir(t, nil)
	level := slog.LevelWarn
	if os.Getenv("QUIRE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	acc, err := account.New(dir, st, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)

	// First delivery over LMTP, by alias with a +detail: the store record
	// is made, with LDAP's mailHost and quota. An unknown and a locked
	// (unknown status) recipient are refused.
	lsrv := lmtpserver.New(lmtpserver.Options{Store: account.Deliveries{Store: st, Accounts: acc}, Logger: log, Hostname: "test.quire"})
	lln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go lsrv.Serve(lln)
	t.Cleanup(func() { lsrv.Close() })
	lc := dialText(t, lln.Addr().String())
	for _, step := range []struct{ send, want string }{
		{"LHLO test", ""},
		{"MAIL FROM:<bob@example.net>", "250 2.1.0 sender <bob@example.net> ok"},
		{"RCPT TO:<Alice.Smith+news@example.org>", "250 2.1.5 <Alice.Smith+news@example.org> ok"},
		{"RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such user here"},
		{"RCPT TO:<odd@example.org>", "550 5.1.1 <odd@example.org>: no such user here"},
		{"DATA", "354 start mail input; end with <CRLF>.<CRLF>"},
		{"Subject: for alice\r\n\r\nhello\r\n.", "250 2.0.0 <Alice.Smith+news@example.org> delivered"},
	} {
		if got := lc.cmd(step.send); step.want != "" && got != step.want {
			t.Fatalf("LMTP %q: got %q, want %q", step.send, got, step.want)
		}
	}
	u, err := st.User(ctx, "alice@example.org")
	if err != nil {
		t.Fatalf("alice after the first delivery: %v", err)
	}
	if u.MailHost != "group-b" || u.QuotaStorage != 5_000_000 || u.QuotaMessages != 1000 {
		t.Fatalf("provisioned user %+v; want alice@example.org on group-b with LDAP's quota", u)
	}
	if again, err := acc.User(ctx, "alice@example.org"); err != nil || again.ID != u.ID {
		t.Fatalf("second lookup: %+v %v; want the same store user %s", again, err, u.ID)
	}
	if _, err := st.User(ctx, "odd@example.org"); err == nil {
		t.Fatal("a locked user got a store")
	}

	auth := login.NewDirectoryAuthenticator(acc, login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond}), login.DefaultAuthOptions(), log)
	srv := imapserver.New(imapserver.Options{Store: st, Auth: auth, Logger: log, AllowPlaintext: true, Hostname: "test.quire"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()

	const failed = "NO [AUTHENTICATIONFAILED] Authentication failed"
	expectTagged := func(c *imapClient, want, format string, args ...any) []string {
		t.Helper()
		un, got := c.do(format, args...)
		if strings.HasPrefix(want, "OK") && !strings.HasPrefix(got, "OK") || !strings.HasPrefix(want, "OK") && got != want {
			t.Fatalf("%s: got %q, want %q", strings.Fields(format)[0], got, want)
		}
		return un
	}
	exists := func(c *imapClient, n int) {
		t.Helper()
		un := expectTagged(c, "OK", "SELECT INBOX")
		if !slices.Contains(un, fmt.Sprintf("* %d EXISTS", n)) {
			t.Fatalf("SELECT INBOX: %q; want * %d EXISTS", un, n)
		}
	}

	// A wrong password, then the right one by alias.
	c := dialIMAP(t, addr)
	expectTagged(c, failed, "LOGIN alice@example.org wrong")
	expectTagged(c, "OK", "LOGIN als@example.net alice-pw")
	exists(c, 1)

	// An unknown user fails as a wrong password does.
	expectTagged(dialIMAP(t, addr), failed, "LOGIN nobody@example.org alice-pw")

	// A suspended account cannot log in, with its right password.
	expectTagged(dialIMAP(t, addr), failed, "LOGIN sus@example.org sus-pw")

	// ops is new to the store: the first login makes its mailboxes.
	if _, err := st.User(ctx, "ops@example.org"); err == nil {
		t.Fatal("ops is in the store before its first login")
	}
	c = dialIMAP(t, addr)
	expectTagged(c, "OK", "AUTHENTICATE PLAIN %s", plain("", "ops@example.org", "ops-pw"))
	un := expectTagged(c, "OK", `LIST "" "*"`)
	want := []string{`* LIST (\HasNoChildren) "/" INBOX`, `* LIST (\HasNoChildren \Drafts) "/" Drafts`, `* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* LIST (\HasNoChildren \Trash) "/" Trash`, `* LIST (\HasNoChildren \Junk) "/" Junk`, `* LIST (\HasNoChildren \Archive) "/" Archive`}
	slices.Sort(un)
	slices.Sort(want)
	if !slices.Equal(un, want) {
		t.Fatalf("ops's mailboxes after first login: %q, want %q", un, want)
	}
	exists(c, 0)

	// ops, a service administrator, opens alice's store.
	c = dialIMAP(t, addr)
	expectTagged(c, "OK", "AUTHENTICATE PLAIN %s", plain("alice@example.org", "ops@example.org", "ops-pw"))
	exists(c, 1)
	// ... but not with a wrong password.
	expectTagged(dialIMAP(t, addr), failed, "AUTHENTICATE PLAIN %s", plain("alice@example.org", "ops@example.org", "alice-pw"))
	// alice is not one: she cannot open ops's store.
	expectTagged(dialIMAP(t, addr), failed, "AUTHENTICATE PLAIN %s", plain("ops@example.org", "alice@example.org", "alice-pw"))
	// Her own address (or alias) as authorization identity is her own login.
	c = dialIMAP(t, addr)
	expectTagged(c, "OK", "AUTHENTICATE PLAIN %s", plain("alice.smith@example.org", "alice@example.org", "alice-pw"))
	exists(c, 1)

	// POP3 takes the authorization identity too (RFC 5034 AUTH PLAIN).
	psrv := pop3server.New(pop3server.Options{Store: st, Auth: auth, Logger: log, AllowPlaintext: true, Hostname: "test.quire"})
	pln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go psrv.Serve(pln)
	t.Cleanup(func() { psrv.Close() })
	usage, err := st.Usage(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	p := dialText(t, pln.Addr().String())
	if got := p.cmd("AUTH PLAIN " + plain("alice@example.org", "alice@example.org", "ops-pw")); got != "-ERR [AUTH] authentication failed" {
		t.Fatalf("POP3 AUTH with alice's name and ops's password: %q", got)
	}
	wantOK := fmt.Sprintf("+OK maildrop has 1 messages (%d octets)", usage.Storage)
	if got := p.cmd("AUTH PLAIN " + plain("alice@example.org", "ops@example.org", "ops-pw")); got != wantOK {
		t.Fatalf("POP3 AUTH as a service administrator: %q, want %q", got, wantOK)
	}
}

// textConn is a line-based session (LMTP, POP3) whose every command has a
// one-line reply, or, for LMTP's LHLO, several (the last is returned).
type textConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialText(t *testing.T, addr string) *textConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &textConn{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.read() // greeting
	return c
}

func (c *textConn) read() string {
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 || l[3] != '-' { // not an SMTP continuation line
			return l
		}
	}
}

func (c *textConn) cmd(line string) string {
	fmt.Fprintf(c.nc, "%s\r\n", strings.ReplaceAll(line, `\r\n`, "\r\n"))
	return c.read()
}
