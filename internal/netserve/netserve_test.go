package netserve

import (
	"bufio"
	"errors"
	"net"
	"testing"
	"time"
)

func TestLimitAndClose(t *testing.T) {
	hold := make(chan struct{})
	s := &Server{MaxConns: 1, Busy: "BUSY\r\n", Handle: func(nc net.Conn, secure bool) {
		nc.Write([]byte("HELLO\r\n"))
		select {
		case <-hold:
		case <-time.After(10 * time.Second):
		}
		buf := make([]byte, 1)
		nc.Read(buf) // returns when Close closes the connection
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln, nil) }()
	read := func() string {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		l, _ := bufio.NewReader(c).ReadString('\n')
		return l
	}
	if l := read(); l != "HELLO\r\n" {
		t.Fatalf("first: %q", l)
	}
	if l := read(); l != "BUSY\r\n" {
		t.Fatalf("second, over the limit: %q", l)
	}
	close(hold)
	start := time.Now()
	s.Close(5 * time.Second)
	if time.Since(start) > 2*time.Second {
		t.Fatal("Close waited for the grace period: connections were not closed")
	}
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := s.Serve(ln, nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve on a closed server: %v", err)
	}
}
