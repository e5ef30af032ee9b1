package netserve

import (
	"net"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// TestSetMaxConns: raising the bound while serving lets the next
// connection in; lowering it refuses new ones while the connections
// already handled stay open, until enough of them end. Run under -race:
// SetMaxConns races with the accept loop.
func TestSetMaxConns(t *testing.T) {
	release := make(chan struct{}, 8)
	s := &Server{MaxConns: 1, Busy: "BUSY\r\n", Handle: func(nc net.Conn, _ bool, _ *Conn) {
		nc.Write([]byte("HELLO\r\n"))
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
	}}
	ln := testkit.Listen(t)
	go s.Serve(ln, nil)
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().String()
	want := func(what, line string) {
		t.Helper()
		c := dial(t, addr)
		if l := c.line(); l != line {
			t.Fatalf("%s: %q, want %q", what, l, line)
		}
	}
	want("first, within 1", "HELLO")
	want("second, over 1", "BUSY")
	s.SetMaxConns(3)
	want("second, within the raised 3", "HELLO")
	want("third, within 3", "HELLO")
	want("fourth, over 3", "BUSY")
	s.SetMaxConns(1)
	want("fourth, over the lowered 1", "BUSY")
	// The three sessions open before were not ended.
	if st := s.Stats(); st.Open != 3 || st.Refused != 3 {
		t.Fatalf("Stats %+v, want 3 open and 3 refused", st)
	}
	// Two end: one is left, still at the bound of 1.
	release <- struct{}{}
	release <- struct{}{}
	waitOpen(t, s, 1)
	want("with 1 open of 1", "BUSY")
	release <- struct{}{}
	waitOpen(t, s, 0)
	want("with none open", "HELLO")
	s.SetMaxConns(0)
	for i := range 3 {
		want("no bound "+string(rune('a'+i)), "HELLO")
	}
}

func waitOpen(t *testing.T, s *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Open != n {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d, want %d", s.Stats().Open, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
