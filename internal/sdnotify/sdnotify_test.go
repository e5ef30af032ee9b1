package sdnotify

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// listen opens a unixgram socket as systemd does and returns the
// $NOTIFY_SOCKET value for it and a function that reads one datagram.
func listen(t *testing.T, abstract bool) (string, func() string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify")
	env := name
	if abstract {
		env = fmt.Sprintf("@quire-sdnotify-test-%d", time.Now().UnixNano())
		name = "\x00" + env[1:]
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return env, func() string {
		t.Helper()
		buf := make([]byte, 4096)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no datagram: %v", err)
		}
		return string(buf[:n])
	}
}

func TestMessages(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			env, read := listen(t, abstract)
			n := New(env)
			if !n.Enabled() {
				t.Fatal("not enabled with a socket")
			}
			if err := n.Ready("serving"); err != nil {
				t.Fatal(err)
			}
			if got, want := read(), "READY=1\nSTATUS=serving\n"; got != want {
				t.Fatalf("Ready sent %q, want %q", got, want)
			}
			var before unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &before)
			if err := n.Reloading(""); err != nil {
				t.Fatal(err)
			}
			got := read()
			lines := strings.Split(got, "\n")
			if len(lines) != 3 || lines[0] != "RELOADING=1" || !strings.HasPrefix(lines[1], "MONOTONIC_USEC=") || lines[2] != "" {
				t.Fatalf("Reloading sent %q", got)
			}
			usec, err := strconv.ParseInt(strings.TrimPrefix(lines[1], "MONOTONIC_USEC="), 10, 64)
			if lo := before.Sec*1e6 + before.Nsec/1e3; err != nil || usec < lo || usec > lo+5e6 {
				t.Fatalf("MONOTONIC_USEC=%d is not CLOCK_MONOTONIC (%d µs before the call): %v", usec, lo, err)
			}
			if err := n.Stopping("draining\nsessions"); err != nil {
				t.Fatal(err)
			}
			if got, want := read(), "STOPPING=1\nSTATUS=draining sessions\n"; got != want {
				t.Fatalf("Stopping sent %q, want %q", got, want)
			}
		})
	}
}

// TestNoSocket: outside systemd every call succeeds and sends nothing.
func TestNoSocket(t *testing.T) {
	n := New("")
	if n.Enabled() || n.Ready("x") != nil || n.Reloading("") != nil || n.Stopping("") != nil {
		t.Fatal("a Notifier without a socket did something")
	}
}

// TestGoneSocket: a socket nobody listens on is an error naming it, not a
// hang.
func TestGoneSocket(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gone")
	err := New(p).Ready("")
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("Ready to a missing socket: %v", err)
	}
}
