package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// built caches the binary that buildQuire makes for this test process.
var built struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// buildQuire builds the binary once per test run.
func buildQuire(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "quire-bin-")
		if err != nil {
			built.err = err
			return
		}
		built.bin = filepath.Join(dir, "quire")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writeConfig writes a config for an embedded store in dir, on free
// loopback ports.
func writeConfig(t *testing.T, dir string) (cfg, lmtpAddr, httpAddr string) {
	t.Helper()
	return writeServerConfig(t, dir, fmt.Sprintf("dbtype = \"embedded\"\ndatadir = %q\n", filepath.Join(dir, "data")))
}

// writeServerConfig writes a config with the given [store] keys, LMTP and
// HTTP on free loopback ports, IMAP and POP3 off, and quiet logs.
func writeServerConfig(t *testing.T, dir, storeKeys string) (cfg, lmtpAddr, httpAddr string) {
	t.Helper()
	lmtpAddr, httpAddr = freePort(t), freePort(t)
	cfg = filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\n%s[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\n[imap]\nlisten = []\n[pop3]\nlisten = []\n",
		storeKeys, lmtpAddr, httpAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, lmtpAddr, httpAddr
}

func startServer(t *testing.T, bin, cfg, lmtpAddr string) *exec.Cmd {
	t.Helper()
	return startUntil(t, exec.Command(bin, "serve", "--config", cfg), "create a user")
}

// startUntil starts cmd, killed when the test ends, and waits until its
// output has a line containing ready.
func startUntil(t *testing.T, cmd *exec.Cmd, ready string) *exec.Cmd {
	t.Helper()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	seen := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), ready) {
				close(seen)
			}
		}
	}()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start within 30 s", strings.Join(cmd.Args, " "))
	}
	return cmd
}

// lmtpSession connects to an LMTP server and says LHLO; the connection
// closes when the test ends.
func lmtpSession(t *testing.T, addr string) *textproto.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	tp := textproto.NewConn(conn)
	t.Cleanup(func() { tp.Close() })
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatalf("LMTP greeting: %v", err)
	}
	if err := tp.PrintfLine("LHLO test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tp.ReadResponse(250); err != nil {
		t.Fatalf("LHLO: %v", err)
	}
	return tp
}

// deliver sends one message over an LMTP session and reports whether the
// single recipient got 250.
func deliver(tp *textproto.Conn, rcpt, body string) (bool, error) {
	cmds := []struct {
		line string
		code int
	}{{"MAIL FROM:<crash@example.test>", 250}, {"RCPT TO:<" + rcpt + ">", 250}, {"DATA", 354}}
	for _, c := range cmds {
		if err := tp.PrintfLine("%s", c.line); err != nil {
			return false, err
		}
		if _, _, err := tp.ReadResponse(c.code); err != nil {
			return false, err
		}
	}
	w := tp.DotWriter()
	if _, err := io.WriteString(w, body); err != nil {
		return false, err
	}
	if err := w.Close(); err != nil {
		return false, err
	}
	code, _, err := tp.ReadResponse(250)
	return code == 250 && err == nil, err
}

// TestCrashDuringDeliveries kills the server with SIGKILL in the middle of a
// stream of deliveries, restarts it, and checks that every message that got
// 250 is stored whole and that nothing half-written is visible.
func TestCrashDuringDeliveries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	dir := t.TempDir()
	cfg, lmtpAddr, _ := writeConfig(t, dir)
	const rcpt = "crash@example.test"
	if out, err := exec.Command(bin, "user", "add", rcpt, "--password", "pw", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	srv := startServer(t, bin, cfg, lmtpAddr)

	var mu sync.Mutex
	acked := map[string]string{} // body sha256 -> token, for every 250
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", lmtpAddr)
			if err != nil {
				return
			}
			tp := textproto.NewConn(conn)
			defer tp.Close()
			if _, _, err := tp.ReadResponse(220); err != nil {
				return
			}
			_ = tp.PrintfLine("LHLO crash.test")
			if _, _, err := tp.ReadResponse(250); err != nil {
				return
			}
			for i := 0; ctx.Err() == nil && i < 5000; i++ {
				tok := fmt.Sprintf("w%d-m%d", w, i)
				body := fmt.Sprintf("Subject: %s\r\nMessage-ID: <%s@crash.test>\r\n\r\n%s\r\n%s\r\n", tok, tok, tok, strings.Repeat("x", 200*(i%50)))
				ok, err := deliver(tp, rcpt, body)
				if err != nil {
					return
				}
				if ok {
					sum := sha256.Sum256([]byte(body))
					mu.Lock()
					acked[hex.EncodeToString(sum[:])] = tok
					mu.Unlock()
				}
			}
		}()
	}
	// Kill once a good number of deliveries have been acknowledged.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 150 {
			break
		}
	}
	if err := srv.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) < 50 {
		t.Fatalf("only %d deliveries acknowledged before the kill: the test proves little", len(acked))
	}

	// Restart, then stop, so recovery runs as it would in production.
	srv = startServer(t, bin, cfg, lmtpAddr)
	_ = srv.Process.Signal(syscall.SIGTERM)
	_ = srv.Wait()

	b, err := embedded.Open(filepath.Join(dir, "data"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := store.New(b, store.Options{})
	ctx2 := context.Background()
	u, err := st.User(ctx2, rcpt)
	if err != nil {
		t.Fatal(err)
	}
	in, err := st.Mailbox(ctx2, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := st.Status(ctx2, in)
	stored := map[store.BlobID]bool{}
	var rows, size int64
	var last mail.UID
	err = st.Messages(ctx2, in, 1, 0, func(r store.MessageRow) error {
		if r.UID <= last {
			return fmt.Errorf("UID %d after %d", r.UID, last)
		}
		last = r.UID
		rows++
		size += r.Meta.Size
		blob, err := st.OpenBody(ctx2, r.Meta)
		if err != nil {
			return fmt.Errorf("UID %d: body missing after crash: %w", r.UID, err)
		}
		defer blob.Close()
		hash := sha256.New()
		if _, err := io.Copy(hash, io.NewSectionReader(blob, 0, blob.Size())); err != nil {
			return fmt.Errorf("UID %d: body unreadable: %w", r.UID, err)
		}
		if got := hex.EncodeToString(hash.Sum(nil)); got != string(r.Meta.Blob) || blob.Size() != r.Meta.Size {
			return fmt.Errorf("UID %d: body half-written (hash %s, want %s)", r.UID, got[:12], r.Meta.Blob[:12])
		}
		stored[r.Meta.Blob] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if h.Messages != rows || h.Size != size || h.UIDNext <= last {
		t.Fatalf("head %+v disagrees with %d rows of %d bytes (last UID %d)", h, rows, size, last)
	}
	for sum, tok := range acked {
		if !stored[store.BlobID(sum)] {
			t.Errorf("message %s got 250 but is not in the mailbox after the crash", tok)
		}
	}
	t.Logf("%d deliveries acknowledged before SIGKILL, %d messages stored after restart", len(acked), rows)
}
