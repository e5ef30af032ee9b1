package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// pipes counts the process's open pipe descriptors: a splice(2) copy
// holds a pipe (two descriptors) for as long as it runs.
func pipes(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n
}

// carriedClient logs in over nc, with a command pipelined behind LOGIN
// in the same write, and checks the host's bytes that followed its login
// reply and the pipelined command's reply come through whole.
func carriedClient(t *testing.T, nc net.Conn, h *stubHost) *bufio.Reader {
	t.Helper()
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(nc)
	if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "* OK [CAPABILITY ") {
		t.Fatalf("greeting %q %v", l, err)
	}
	if _, err := io.WriteString(nc, "l LOGIN u@x.test pw\r\na FETCH 1 BODY[]\r\n"); err != nil {
		t.Fatal(err)
	}
	want := "l OK Logged in\r\n" + h.afterLogin
	got := make([]byte, len(want))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != want {
		t.Fatalf("login: %q %v, want %q", got, err, want)
	}
	readReply(t, br, h, "a")
	return br
}

// readReply reads the stub's whole reply to tag and checks it.
func readReply(t *testing.T, br *bufio.Reader, h *stubHost, tag string) {
	t.Helper()
	got := make([]byte, h.replyLen(tag))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("reply to %s: %v", tag, err)
	}
	head := "* 1 FETCH (BODY[] {"
	if !strings.HasPrefix(string(got), head) || !strings.HasSuffix(string(got), ")\r\n"+tag+" OK FETCH completed\r\n") ||
		strings.Count(string(got), "x") != h.size {
		t.Fatalf("reply to %s: %q...%q", tag, got[:min(len(got), 40)], got[max(0, len(got)-40):])
	}
}

// TestCarriedSessionSplices: after login a plain session's bytes go
// host to client and client to host by splice(2) (each direction holds a
// kernel pipe while it runs), what either side sent ahead of the login's
// end is carried first, and 1 MiB replies arrive whole.
func TestCarriedSessionSplices(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("splice(2) is Linux's")
	}
	h := startStubHost(t, 1<<20, "* 3 EXISTS\r\n")
	addr, _ := startStubProxy(t, h, nil)
	before := pipes(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := carriedClient(t, nc, h)
	if n := pipes(t) - before; n < 4 {
		t.Errorf("%d pipe descriptors opened for the carried session, want 4 (one pipe per direction: splice)", n)
	}
	for _, tag := range []string{"b", "c"} {
		if _, err := io.WriteString(nc, tag+" FETCH 1 BODY[]\r\n"); err != nil {
			t.Fatal(err)
		}
		readReply(t, br, h, tag)
	}
}

// TestCarriedSessionTLS: a client on implicit TLS (no splice: the proxy
// decrypts) gets the same bytes, pipelined command and 1 MiB replies
// included.
func TestCarriedSessionTLS(t *testing.T) {
	h := startStubHost(t, 1<<20, "* 3 EXISTS\r\n")
	_, addr := startStubProxy(t, h, testkit.SelfSigned(t))
	nc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := carriedClient(t, nc, h)
	for _, tag := range []string{"b", "c"} {
		if _, err := io.WriteString(nc, tag+" FETCH 1 BODY[]\r\n"); err != nil {
			t.Fatal(err)
		}
		readReply(t, br, h, tag)
	}
}
