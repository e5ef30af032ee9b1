package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// tier is a deployment of TestProxyTwoGroups: access hosts in two store
// affinity groups on one Cassandra, each on its own loopback address
// with the same IMAP, POP3 and LMTP ports, and a proxy in front.
type tier struct {
	ports             []int // IMAP, POP3, LMTP of every host
	hosts             map[string]*exec.Cmd
	proxyIMAP, proxyL string
	proxyPOP3         string
}

// TestProxyTwoGroups is issue 17's tier test: users of both groups log
// in, select and IDLE through the proxy; one LMTP transaction to the
// proxy with recipients in both groups gets its replies in order and
// wakes IDLE on every host of each group; killing a user's first host
// sends the next login to the second; a login at the wrong group's host
// gets a referral; Python's imaplib and isync's mbsync work through the
// proxy.
func TestProxyTwoGroups(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs four servers")
	}
	python := needTool(t, "python3")
	bin := buildQuire(t)
	east, west := []string{"127.0.0.2", "127.0.0.3"}, []string{"127.0.0.4"}
	ips := append(append([]string{}, east...), west...)
	tr := &tier{ports: testkit.CommonPorts(t, 3, ips...), hosts: map[string]*exec.Cmd{}}
	notifyPort := map[string]string{}
	for _, ip := range ips {
		notifyPort[ip] = freePortOn(t, ip)
	}
	groups := fmt.Sprintf("[store.storehostlist]\neast = [%q, %q]\nwest = [%q]\n", notifyPort[east[0]], notifyPort[east[1]], notifyPort[west[0]])
	port := func(ip string, i int) string { return net.JoinHostPort(ip, strconv.Itoa(tr.ports[i])) }
	var cfgs []string
	for _, ip := range ips {
		cfgs = append(cfgs, writeTierConfig(t, fmt.Sprintf(`[server]
hostname = %q
trusted_proxies = ["127.0.0.1"]
[log]
level = "warn"
[login]
other_group = "refer"
[store]
%s%s
[notify]
listen = [%q]
secret = "a secret shared by the test hosts"
[imap]
listen = [%q]
allow_plaintext = true
recheck = "1m"
[pop3]
listen = [%q]
allow_plaintext = true
[lmtp]
listen = [%q]
[http]
listen = []
`, ip, casStoreKeys(addr), groups, notifyPort[ip], port(ip, 0), port(ip, 1), port(ip, 2))))
	}
	tr.proxyIMAP, tr.proxyPOP3, tr.proxyL = freePort(t), freePort(t), freePort(t)
	proxyCfg := writeTierConfig(t, fmt.Sprintf(`[server]
hostname = "proxy.test"
[log]
level = "warn"
[store]
%s%s
[proxy]
imap_port = %d
pop3_port = %d
lmtp_port = %d
host_retry = "1m"
connect_timeout = "1s"
[imap]
listen = [%q]
allow_plaintext = true
[pop3]
listen = [%q]
allow_plaintext = true
[lmtp]
listen = [%q]
[http]
listen = []
`, casStoreKeys(addr), groups, tr.ports[0], tr.ports[1], tr.ports[2], tr.proxyIMAP, tr.proxyPOP3, tr.proxyL))

	var r [6]byte
	_, _ = rand.Read(r[:])
	alice := "pxa" + hex.EncodeToString(r[:]) + "@example.org"
	bob := "pxb" + hex.EncodeToString(r[:]) + "@example.org"
	for u, g := range map[string]string{alice: "east", bob: "west"} {
		if out, err := quire(t, "", "user", "add", u, "--password", "pw", "--mailhost", g, "--config", cfgs[0]); err != nil {
			t.Fatalf("user add: %v\n%s", err, out)
		}
	}
	if out, err := quire(t, "", "user", "mailhost", alice, "north", "--config", cfgs[0]); err == nil || !strings.Contains(err.Error(), `"north" names no group or host of store.storehostlist (groups: east, west)`) {
		t.Fatalf("user mailhost to an undefined group: %v\n%s", err, out)
	}
	for i, ip := range ips {
		tr.hosts[ip] = startUntil(t, exec.Command(bin, "serve", "--config", cfgs[i]), "create a user")
	}
	startUntil(t, exec.Command(bin, "proxy", "--config", proxyCfg), "quire: proxy ready")
	time.Sleep(500 * time.Millisecond) // the notifier links of each group come up

	// Both users IDLE through the proxy, and alice also directly on east's
	// second host: the notifier must wake her there.
	aliceProxied := startIdle(t, tr.proxyIMAP, alice, "pw")
	bobProxied := startIdle(t, tr.proxyIMAP, bob, "pw")
	aliceDirect := startIdle(t, port(east[1], 0), alice, "pw")

	tp := lmtpSession(t, tr.proxyL)
	const body = "Subject: to both groups\r\n\r\nhello\r\n"
	replies := lmtpTransaction(t, tp, []string{bob, "nobody@example.org", alice}, body)
	want := []string{"250 2.1.5 <" + bob + "> ok", "550 5.1.1 <nobody@example.org>: no such user here", "250 2.1.5 <" + alice + "> ok",
		"250 2.0.0 <" + bob + "> delivered", "250 2.0.0 <" + alice + "> delivered"}
	if strings.Join(replies, "\n") != strings.Join(want, "\n") {
		t.Fatalf("LMTP replies through the proxy:\n%s\nwant:\n%s", strings.Join(replies, "\n"), strings.Join(want, "\n"))
	}
	deadline := time.Now().Add(2 * time.Second)
	for name, ic := range map[string]*idleClient{"alice through the proxy": aliceProxied, "bob through the proxy": bobProxied, "alice on east's second host": aliceDirect} {
		if line, ok := ic.wait(deadline); !ok {
			t.Fatalf("IDLE of %s not woken within 2 s of the delivery (last line %q)", name, line)
		}
	}

	// Python's imaplib through the proxy.
	host, pport, _ := strings.Cut(tr.proxyIMAP, ":")
	script := `import imaplib, sys
host, port, user, pw = sys.argv[1:5]
m = imaplib.IMAP4(host, int(port))
assert 'IMAP4REV2' in m.capabilities, m.capabilities
typ, _ = m.login(user, pw)
assert typ == 'OK', typ
typ, data = m.select('INBOX')
assert typ == 'OK' and data[0] == b'1', (typ, data)
typ, data = m.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
assert typ == 'OK' and b'to both groups' in data[0][1], data
assert m.logout()[0] == 'BYE'
print('imaplib ok')
`
	if out := runTool(t, "python3 imaplib", exec.Command(python, "-c", script, host, pport, bob, "pw")); !strings.Contains(out, "imaplib ok") {
		t.Fatalf("imaplib through the proxy: %s", out)
	}

	// isync's mbsync through the proxy: bob's INBOX down, a message
	// written locally up.
	mbsync := needTool(t, "mbsync")
	dir := t.TempDir()
	rc := writeMbsyncrc(t, dir, host, pport, bob, "pw")
	runTool(t, "mbsync (down)", exec.Command(mbsync, "-c", rc, "sync"))
	if files := maildirFiles(t, filepath.Join(dir, "mail", "INBOX")); len(files) != 1 {
		t.Fatalf("mbsync through the proxy: %d messages, want 1: %v", len(files), files)
	}
	if err := os.WriteFile(filepath.Join(dir, "mail", "INBOX", "new", "1700000000.local.test"), []byte("Subject: written locally\n\nhi\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runTool(t, "mbsync (up)", exec.Command(mbsync, "-c", rc, "sync"))
	s := textConn(t, tr.proxyIMAP)
	s.line()
	s.send("a LOGIN " + bob + " pw")
	s.until("a OK")
	s.send("b STATUS INBOX (MESSAGES)")
	if got := s.until("* STATUS"); !strings.HasSuffix(got, "(MESSAGES 2)") {
		t.Fatalf("bob's INBOX after mbsync up through the proxy: %q", got)
	}

	// A login at the wrong group's host is referred to the right group.
	c := textConn(t, port(east[1], 0))
	c.line()
	c.send("a LOGIN " + bob + " pw")
	if got, want := c.line(), "a NO [REFERRAL imap://"+strings.Replace(bob, "@", "%40", 1)+"@127.0.0.4/] This account is served by store affinity group west; try 127.0.0.4"; got != want {
		t.Fatalf("login at the wrong group's host:\n%s\nwant\n%s", got, want)
	}

	// Kill alice's first host: her proxied session ends; the next login
	// through the proxy is served by east's second host.
	_ = tr.hosts[east[0]].Process.Kill()
	_ = tr.hosts[east[0]].Wait()
	if line, ok := aliceProxied.wait(time.Now().Add(5 * time.Second)); ok {
		t.Fatalf("alice's session through the proxy outlived her host: %q", line)
	}
	c = textConn(t, tr.proxyIMAP)
	c.line()
	c.send("a LOGIN " + alice + " pw")
	if l := c.until("a "); !strings.HasPrefix(l, "a OK") {
		t.Fatalf("login after east's first host died: %q", l)
	}
	c.send("b SELECT INBOX")
	if l := c.until("b "); !strings.HasPrefix(l, "b OK") {
		t.Fatalf("SELECT after failover: %q", l)
	}
	// POP3 through the proxy, on the surviving host.
	p := textConn(t, tr.proxyPOP3)
	p.line()
	p.send("USER " + alice)
	p.line()
	p.send("PASS pw")
	if got := p.line(); got != fmt.Sprintf("+OK maildrop has 1 messages (%d octets)", len(body)) {
		t.Fatalf("POP3 through the proxy: %q", got)
	}
}

func writeTierConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "quire.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// lmtpTransaction sends MAIL, the RCPTs and DATA on tp and returns every
// reply line after MAIL's: the RCPT replies, then the replies after DATA.
func lmtpTransaction(t *testing.T, tp *textproto.Conn, rcpts []string, body string) []string {
	t.Helper()
	if err := tp.PrintfLine("MAIL FROM:<s@example.net>"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tp.ReadResponse(250); err != nil {
		t.Fatal(err)
	}
	var out []string
	accepted := 0
	for _, r := range rcpts {
		_ = tp.PrintfLine("RCPT TO:<%s>", r)
		l, err := tp.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
		if strings.HasPrefix(l, "250") {
			accepted++
		}
	}
	_ = tp.PrintfLine("DATA")
	if _, _, err := tp.ReadResponse(354); err != nil {
		t.Fatal(err)
	}
	w := tp.DotWriter()
	_, _ = w.Write([]byte(body))
	_ = w.Close()
	for range accepted {
		l, err := tp.ReadLine()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// lineConn is a raw text-protocol client.
type lineConn struct {
	t  *testing.T
	tp *textproto.Conn
}

func textConn(t *testing.T, addr string) *lineConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	tp := textproto.NewConn(nc)
	t.Cleanup(func() { tp.Close() })
	return &lineConn{t: t, tp: tp}
}

func (c *lineConn) send(line string) {
	c.t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		c.t.Fatal(err)
	}
}

func (c *lineConn) line() string {
	c.t.Helper()
	l, err := c.tp.ReadLine()
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

// until returns the first line starting with prefix.
func (c *lineConn) until(prefix string) string {
	c.t.Helper()
	for {
		if l := c.line(); strings.HasPrefix(l, prefix) {
			return l
		}
	}
}
