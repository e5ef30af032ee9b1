package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// affinityHost is one access host of TestAffinityGroupIdle: its own
// loopback address, with every listener on it.
type affinityHost struct {
	ip, imap, lmtp, notify, cfg string
}

func freePortOn(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestAffinityGroupIdle runs four access hosts on one Cassandra: three in
// group east, one in group west. A delivery on east's first host wakes
// IDLE sessions of the user on the other two east hosts within a second;
// the west host, where the same user also idles, is not told (its recheck
// timer is a minute, longer than the test waits). The hosts serve users
// of other groups (login.other_group = "serve") so that the west host
// lets the east user in.
func TestAffinityGroupIdle(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs four servers")
	}
	bin := buildQuire(t)
	hosts := map[string]*affinityHost{}
	for _, ip := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
		hosts[ip] = &affinityHost{ip: ip, imap: freePortOn(t, ip), lmtp: freePortOn(t, ip), notify: freePortOn(t, ip)}
	}
	a, b, c, w := hosts["127.0.0.2"], hosts["127.0.0.3"], hosts["127.0.0.4"], hosts["127.0.0.5"]
	groups := fmt.Sprintf("[store.storehostlist]\neast = [%q, %q, %q]\nwest = [%q]\n", a.notify, b.notify, c.notify, w.notify)
	for _, h := range hosts {
		dir := t.TempDir()
		h.cfg = filepath.Join(dir, "quire.toml")
		body := fmt.Sprintf(`[server]
hostname = %q
[log]
level = "warn"
[login]
other_group = "serve"
[store]
%s%s
[notify]
listen = [%q]
secret = "a secret shared by the test hosts"
[lmtp]
listen = [%q]
[http]
listen = []
[imap]
listen = [%q]
allow_plaintext = true
recheck = "1m"
[pop3]
listen = []
`, h.ip, casStoreKeys(addr), groups, h.notify, h.lmtp, h.imap)
		if err := os.WriteFile(h.cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	user := "aff" + hex.EncodeToString(r[:]) + "@example.org"
	if out, err := quire(t, "", "user", "add", user, "--password", "pw", "--mailhost", "east", "--config", a.cfg); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	for _, h := range []*affinityHost{a, b, c, w} {
		startServer(t, bin, h.cfg, h.lmtp)
	}
	idlers := map[*affinityHost]*idleClient{}
	for _, h := range []*affinityHost{b, c, w} {
		idlers[h] = startIdle(t, h.imap, user, "pw")
	}
	// The links between east's hosts come up at start; give them a moment
	// so the test measures a delivery, not a first dial.
	time.Sleep(500 * time.Millisecond)

	tp := lmtpSession(t, a.lmtp)
	t0 := time.Now()
	if ok, err := deliver(tp, user, "Subject: wake up\r\n\r\nhello\r\n"); !ok || err != nil {
		t.Fatalf("delivery on host A: %v %v", ok, err)
	}
	for _, h := range []*affinityHost{b, c} {
		if line, ok := idlers[h].wait(t0.Add(time.Second)); !ok {
			t.Fatalf("IDLE on %s not woken within 1 s of the delivery on %s (last line %q)", h.ip, a.ip, line)
		}
		t.Logf("IDLE on %s woken %v after the delivery started on %s", h.ip, time.Since(t0).Round(time.Millisecond), a.ip)
	}
	if line, ok := idlers[w].wait(time.Now().Add(2 * time.Second)); ok {
		t.Fatalf("the west host was told of an east user's delivery: %q", line)
	}
}

// idleClient is an IMAP session in IDLE.
type idleClient struct {
	conn net.Conn
	br   *bufio.Reader
}

func startIdle(t *testing.T, addr, user, pass string) *idleClient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ic := &idleClient{conn: conn, br: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	ic.expect(t, "* OK")
	fmt.Fprintf(conn, "a LOGIN %q %q\r\n", user, pass)
	ic.expect(t, "a OK")
	fmt.Fprintf(conn, "b SELECT INBOX\r\n")
	ic.expect(t, "b OK")
	fmt.Fprintf(conn, "c IDLE\r\n")
	ic.expect(t, "+ ")
	_ = conn.SetDeadline(time.Time{})
	return ic
}

// expect reads lines until one starts with prefix.
func (ic *idleClient) expect(t *testing.T, prefix string) {
	t.Helper()
	for {
		line, err := ic.br.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return
		}
	}
}

// wait reads until an EXISTS response or the deadline.
func (ic *idleClient) wait(deadline time.Time) (string, bool) {
	_ = ic.conn.SetReadDeadline(deadline)
	last := ""
	for {
		line, err := ic.br.ReadString('\n')
		if err != nil {
			return last, false
		}
		last = strings.TrimSpace(line)
		if strings.HasSuffix(last, " EXISTS") {
			return last, true
		}
	}
}
