package testkit

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// UntilEOF reads CRLF-terminated lines from br until the server closes
// nc, and returns them without their CRLF (a last line cut short is kept
// as it came). It fails the test if the server keeps nc open for 20 s.
func UntilEOF(t testing.TB, nc net.Conn, br *bufio.Reader) []string {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out []string
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the server did not close the connection; read %q", append(out, l))
			}
			if l != "" {
				out = append(out, l)
			}
			return out
		}
		out = append(out, strings.TrimSuffix(l, "\r\n"))
	}
}

// Server is a protocol server as quire serve drives it.
type Server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
}

// ServeAfterStop checks a protocol server's shutdown contract, after Close
// and after Shutdown, on servers that mk makes: Serve called after the stop
// returns net.ErrClosed at once, and a running Serve returns net.ErrClosed
// once the server was stopped, as does a Serve called after that.
func ServeAfterStop(t *testing.T, mk func() Server) {
	for name, stop := range map[string]func(Server) error{
		"Close":    Server.Close,
		"Shutdown": func(s Server) error { return s.Shutdown(context.Background()) },
	} {
		t.Run(name, func(t *testing.T) {
			s := mk()
			if err := stop(s); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := s.Serve(Listen(t)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve on a server stopped before it served returned %v, want net.ErrClosed", err)
			}
			s = mk()
			served := make(chan error, 1)
			go func() { served <- s.Serve(Listen(t)) }()
			time.Sleep(20 * time.Millisecond) // Serve is accepting
			if err := stop(s); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			select {
			case err := <-served:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("running Serve returned %v, want net.ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("running Serve did not return after %s", name)
			}
			if err := s.Serve(Listen(t)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve after %s returned %v, want net.ErrClosed", name, err)
			}
		})
	}
}

// Listen opens a listener on 127.0.0.1, closed when the test ends.
func Listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
