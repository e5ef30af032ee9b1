package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store/embedded"
)

// TestUserAddRightAfterStart is the operator's script "start the server,
// wait, add a user" (issue 15, item 9), on ten fresh data directories in a
// row. Half the starts wait for the IMAP port, half only until the server
// holds the data directory: the server takes the directory a second or
// more before it has written its admin token and opened http.listen, and
// user add, finding the directory in use, read a missing or stale token
// and failed. It must now wait for GET /readyz and succeed every time.
func TestUserAddRightAfterStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	for i := range 10 {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		imapAddr, httpAddr := freePort(t), freePort(t)
		cfg := filepath.Join(dir, "quire.toml")
		body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\n"+
			"[imap]\nlisten = [%q]\n[http]\nlisten = [%q]\n[lmtp]\nlisten = []\n[pop3]\nlisten = []\n", data, imapAddr, httpAddr)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := exec.Command(bin, "serve", "--config", cfg)
		srv.Stderr = os.Stderr
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{}) // closed when serve has exited, with waitErr
		var waitErr error
		go func() { waitErr = srv.Wait(); close(exited) }()
		t.Cleanup(func() { _ = srv.Process.Kill(); <-exited }) // a failed start leaves no server behind
		waitFor, ready := "the IMAP port", func() bool {
			c, err := net.Dial("tcp", imapAddr)
			if err == nil {
				c.Close()
			}
			return err == nil
		}
		if i%2 == 1 {
			waitFor, ready = "the data directory's lock", func() bool { return lockedBy(filepath.Join(data, "meta", "LOCK"), srv.Process.Pid) }
		}
		for deadline := time.Now().Add(60 * time.Second); !ready(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("start %d: no %s within 60 s", i, waitFor)
			}
		}
		add := exec.Command(bin, "user", "add", "ready@example.org", "--password-hash", "{PLAIN}pw", "--config", cfg)
		out, err := add.CombinedOutput()
		if err != nil {
			t.Fatalf("start %d: user add right after %s: %v\n%s", i, waitFor, err, out)
		}
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("start %d: GET /readyz after user add: %v %v", i, resp, err)
		}
		resp.Body.Close()
		_ = srv.Process.Signal(syscall.SIGTERM)
		<-exited
		if waitErr != nil {
			t.Fatalf("start %d: serve after SIGTERM: %v", i, waitErr)
		}
		if !strings.Contains(string(out), "created ready@example.org") {
			t.Fatalf("start %d: user add said %q", i, out)
		}
	}
}

// lockedBy reports whether process pid holds the write lock Pebble takes
// on path (fcntl F_SETLK); F_GETLK asks without taking it.
func lockedBy(path string, pid int) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false
	}
	return lk.Type != syscall.F_UNLCK && int(lk.Pid) == pid
}

// TestServeWaitsForAnAdminCommand: an admin command that holds the
// embedded data directory as the server starts (user add run at once,
// with no wait) made serve fail with "data directory is in use"; serve now
// waits for the directory and starts.
func TestServeWaitsForAnAdminCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	dir := t.TempDir()
	cfg, _, httpAddr := writeConfig(t, dir)
	held, err := embedded.Open(filepath.Join(dir, "data"), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.Command(bin, "serve", "--config", cfg)
	var errOut strings.Builder
	srv.Stderr = &errOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{}) // closed when serve has exited, with waitErr
	var waitErr error
	go func() { waitErr = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = srv.Process.Kill()
		<-exited
	})
	select {
	case <-exited:
		held.Close()
		t.Fatalf("serve exited while an admin command held the directory: %v\n%s", waitErr, errOut.String())
	case <-time.After(time.Second):
	}
	held.Close()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			t.Fatalf("serve exited: %v\n%s", waitErr, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready 60 s after the directory was released\n%s", errOut.String())
		}
	}
}
