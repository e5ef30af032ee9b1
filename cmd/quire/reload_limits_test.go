package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// TestReloadConnectionLimits: quire serve with each protocol's connection
// limit at 1 (and IMAP's per-address limit at 2) is filled to it; after a
// SIGHUP that raises the limits the next connection is served, and after
// one that lowers them a new connection is refused in the protocol's own
// words while the sessions open before keep working. The reload log
// names each limit applied with its old and new value, and the key that
// needs a restart.
func TestReloadConnectionLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	dir := t.TempDir()
	imapAddr, pop3Addr, lmtpAddr, httpAddr := freePort(t), freePort(t), freePort(t), freePort(t)
	cfgFile := filepath.Join(dir, "quire.toml")
	write := func(imapMax, perIP, pop3Max, lmtpMax int, timeout string) {
		t.Helper()
		body := fmt.Sprintf(`[server]
hostname = "reload.test"
[log]
level = "info"
[store]
dbtype = "embedded"
datadir = %q
[imap]
listen = [%q]
allow_plaintext = true
max_connections = %d
max_connections_per_ip = %d
[pop3]
listen = [%q]
allow_plaintext = true
max_connections = %d
[lmtp]
listen = [%q]
max_connections = %d
timeout = %q
[http]
listen = [%q]
`, filepath.Join(dir, "data"), imapAddr, imapMax, perIP, pop3Addr, pop3Max, lmtpAddr, lmtpMax, timeout, httpAddr)
		if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(1, 2, 1, 1, "5m")
	sock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	notified := func(want string) {
		t.Helper()
		buf := make([]byte, 1024)
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := nc.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), want) {
			t.Fatalf("quire serve told systemd %q (%v), want %q...", buf[:n], err, want)
		}
	}
	var logs testkit.SyncBuffer
	cmd := exec.Command(bin, "serve", "--config", cfgFile)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("quire serve's log:\n%s", logs.String())
		}
	})
	notified("READY=1")
	reload := func() {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		notified("RELOADING=1")
		notified("READY=1\nSTATUS=serving\n")
	}

	type session struct {
		c  net.Conn
		br *bufio.Reader
	}
	// greet connects and returns the session and its first line.
	greet := func(addr string) (*session, string) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		s := &session{c, bufio.NewReader(c)}
		l, err := s.br.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: no greeting: %v", addr, err)
		}
		return s, strings.TrimSuffix(l, "\r\n")
	}
	// ask sends a command and returns the reply's first line.
	ask := func(s *session, cmd string) string {
		t.Helper()
		if _, err := s.c.Write([]byte(cmd + "\r\n")); err != nil {
			t.Fatal(err)
		}
		l, err := s.br.ReadString('\n')
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		return strings.TrimSuffix(l, "\r\n")
	}
	type proto struct {
		name, addr string
		ok, busy   string // prefix of the greeting; the whole refusal
		cmd, reply string // a command an open session answers, and its reply's prefix
	}
	protos := []proto{
		{"imap", imapAddr, "* OK [CAPABILITY ", "* BYE [UNAVAILABLE] Too many connections, try again later", "a NOOP", "a OK"},
		{"pop3", pop3Addr, "+OK", "-ERR [SYS/TEMP] too many connections, try again later", "CAPA", "+OK"},
		{"lmtp", lmtpAddr, "220 ", "421 4.3.2 reload.test too many connections, try again later", "NOOP", "250"},
	}
	var open [][]*session
	for _, p := range protos {
		s, l := greet(p.addr)
		if !strings.HasPrefix(l, p.ok) {
			t.Fatalf("%s: first connection: %q, want %q...", p.name, l, p.ok)
		}
		if _, l := greet(p.addr); l != p.busy {
			t.Fatalf("%s: second connection over max_connections = 1: %q, want %q", p.name, l, p.busy)
		}
		open = append(open, []*session{s})
	}

	// Raised: the second connection of each protocol is served. IMAP's
	// per-address limit (2) is met by the first two.
	write(3, 2, 2, 2, "5m")
	reload()
	for i, p := range protos {
		s, l := greet(p.addr)
		if !strings.HasPrefix(l, p.ok) {
			t.Fatalf("%s: second connection after raising max_connections: %q, want %q...", p.name, l, p.ok)
		}
		open[i] = append(open[i], s)
	}
	if _, l := greet(imapAddr); l != "* BYE [UNAVAILABLE] Too many connections from your address" {
		t.Fatalf("imap: third connection from one address over max_connections_per_ip = 2: %q", l)
	}

	// Lowered below what is open: new connections are refused, and the
	// sessions open before still answer.
	write(1, 1, 1, 1, "10m")
	reload()
	for i, p := range protos {
		if _, l := greet(p.addr); l != p.busy {
			t.Fatalf("%s: connection after lowering max_connections to 1 with 2 open: %q, want %q", p.name, l, p.busy)
		}
		for j, s := range open[i] {
			if r := ask(s, p.cmd); !strings.HasPrefix(r, p.reply) {
				t.Fatalf("%s: session %d, open before the limit was lowered, answered %q to %s", p.name, j, r, p.cmd)
			}
		}
	}
	// Both open sessions end: under the lowered limit of 1 one is served
	// again.
	for i, p := range protos {
		for _, s := range open[i] {
			s.c.Close()
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, l := greet(p.addr)
			if strings.HasPrefix(l, p.ok) {
				break
			}
			if l != p.busy || time.Now().After(deadline) {
				t.Fatalf("%s: after the open sessions ended: %q, want %q...", p.name, l, p.ok)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	log := logs.String()
	for _, want := range []string{
		`msg="reload: imap.max_connections changed: applied" key=imap.max_connections from=1 to=3`,
		`msg="reload: imap.max_connections_per_ip changed: applied" key=imap.max_connections_per_ip from=2 to=1`,
		`msg="reload: pop3.max_connections changed: applied" key=pop3.max_connections from=2 to=1`,
		`msg="reload: lmtp.max_connections changed: applied" key=lmtp.max_connections from=1 to=2`,
		`msg="lmtp.timeout changed: needs a restart" key=lmtp.timeout`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the reload log lacks %s", want)
		}
	}
}
