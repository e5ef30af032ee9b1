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

// protoServer is quire serve on the embedded store with IMAP, POP3, LMTP
// and HTTP on free loopback ports, plaintext login allowed, one user, and
// extra keys in [server].
type protoServer struct {
	cmd                    *exec.Cmd
	imap, pop3, lmtp, user string
}

func startProtoServer(t *testing.T, serverKeys string) *protoServer {
	t.Helper()
	dir := t.TempDir()
	s := &protoServer{imap: freePort(t), pop3: freePort(t), lmtp: freePort(t), user: "sam@example.org"}
	cfg := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[server]\n%s\n[log]\nlevel = \"warn\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\n"+
		"[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\n[imap]\nlisten = [%q]\nallow_plaintext = true\n[pop3]\nlisten = [%q]\nallow_plaintext = true\n",
		serverKeys, filepath.Join(dir, "data"), s.lmtp, freePort(t), s.imap, s.pop3)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildQuire(t)
	if out, err := exec.Command(bin, "user", "add", s.user, "--password", "pw", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	s.cmd = startServer(t, bin, cfg, s.lmtp)
	return s
}

// exited waits for the server to exit and returns when, and its error.
func (s *protoServer) exited(t *testing.T, within time.Duration) (time.Time, error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		return time.Now(), err
	case <-time.After(within):
		t.Fatalf("quire serve still running %v after SIGTERM", within)
		return time.Time{}, nil
	}
}

func dialLines(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc, bufio.NewReader(nc)
}

// TestSIGTERMDrainsSessions: on SIGTERM an IMAP session in IDLE gets BYE
// and a POP3 session -ERR [SYS/TEMP] at once; an LMTP session stuck in a
// transaction holds the process until server.shutdown_grace, then is
// closed; the process exits 0 soon after the grace.
func TestSIGTERMDrainsSessions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	const grace = 3 * time.Second
	s := startProtoServer(t, fmt.Sprintf("shutdown_grace = %q", grace.String()))
	idle := startIdle(t, s.imap, s.user, "pw")
	pop, popr := dialLines(t, s.pop3)
	if l, _ := popr.ReadString('\n'); !strings.HasPrefix(l, "+OK ") {
		t.Fatalf("POP3 greeting %q", l)
	}
	tp := lmtpSession(t, s.lmtp)
	for _, c := range []struct {
		line string
		code int
	}{{"MAIL FROM:<a@example.net>", 250}, {"RCPT TO:<" + s.user + ">", 250}} {
		if err := tp.PrintfLine("%s", c.line); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tp.ReadResponse(c.code); err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
	}

	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := testkit.UntilEOF(t, idle.conn, idle.br); strings.Join(got, "\n") != "* BYE [UNAVAILABLE] Server shutting down; reconnect shortly" {
		t.Errorf("IMAP session in IDLE got %q before EOF, want the shutdown BYE", got)
	}
	if took := time.Since(start); took >= grace {
		t.Errorf("the IDLE session waited %v for its BYE: it came when the grace ended, not at once", took)
	}
	if got := testkit.UntilEOF(t, pop, popr); strings.Join(got, "\n") != "-ERR [SYS/TEMP] server shutting down" {
		t.Errorf("POP3 session got %q before EOF", got)
	}
	at, err := s.exited(t, grace+10*time.Second)
	if err != nil {
		t.Errorf("quire serve exited with %v, want status 0", err)
	}
	if took := at.Sub(start); took < grace || took > grace+5*time.Second {
		t.Errorf("quire serve exited %v after SIGTERM, want just after the %v grace", took, grace)
	}
}

// TestSIGTERMExitsWhenDrained: with every session cooperating, the process
// exits as soon as they are told, long before the grace.
func TestSIGTERMExitsWhenDrained(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	s := startProtoServer(t, `shutdown_grace = "30s"`)
	idle := startIdle(t, s.imap, s.user, "pw")
	lmtpSession(t, s.lmtp)
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := testkit.UntilEOF(t, idle.conn, idle.br); strings.Join(got, "\n") != "* BYE [UNAVAILABLE] Server shutting down; reconnect shortly" {
		t.Errorf("IMAP session in IDLE got %q before EOF, want the shutdown BYE", got)
	}
	at, err := s.exited(t, 20*time.Second)
	if err != nil {
		t.Errorf("quire serve exited with %v, want status 0", err)
	}
	if took := at.Sub(start); took > 10*time.Second {
		t.Errorf("quire serve took %v to exit with nothing left to drain", took)
	}
}
