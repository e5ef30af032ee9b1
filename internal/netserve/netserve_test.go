package netserve

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// TestLimitAndClose: a connection over MaxConns is told Busy (and the log
// says so once for a burst, Stats counts it); Close closes the
// connections at once.
func TestLimitAndClose(t *testing.T) {
	hold := make(chan struct{})
	var logs testkit.SyncBuffer
	s := &Server{MaxConns: 1, Busy: "BUSY\r\n", Log: slog.New(slog.NewTextHandler(&logs, nil)), Handle: func(nc net.Conn, secure bool, _ *Conn) {
		nc.Write([]byte("HELLO\r\n"))
		select {
		case <-hold:
		case <-time.After(10 * time.Second):
		}
		buf := make([]byte, 1)
		nc.Read(buf) // returns when Close closes the connection
	}}
	ln := testkit.Listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln, nil) }()
	if l := dial(t, ln.Addr().String()).line(); l != "HELLO" {
		t.Fatalf("first: %q", l)
	}
	for i := range 3 {
		if l := dial(t, ln.Addr().String()).line(); l != "BUSY" {
			t.Fatalf("refusal %d, over the limit: %q", i, l)
		}
	}
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Errorf("%d log lines for three refusals within ten seconds, want 1:\n%s", n, logs.String())
	}
	if got, want := s.Stats(), (Stats{Open: 1, Accepted: 1, Refused: 3}); got != want {
		t.Errorf("Stats with one connection and three refused: %+v, want %+v", got, want)
	}
	close(hold)
	start := time.Now()
	s.Close()
	if got, want := s.Stats(), (Stats{Open: 0, Accepted: 1, Refused: 3}); got != want {
		t.Errorf("Stats after Close: %+v, want %+v", got, want)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("Close waited: connections were not closed")
	}
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	if err := s.Serve(testkit.Listen(t), nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve on a closed server: %v", err)
	}
}

// TestServeAfterShutdown: Serve called after Shutdown (or Close) returns
// net.ErrClosed at once and closes the listener.
func TestServeAfterShutdown(t *testing.T) {
	for name, stop := range map[string]func(*Server){
		"Shutdown": func(s *Server) { _ = s.Shutdown(context.Background()) },
		"Close":    func(s *Server) { s.Close() },
	} {
		t.Run(name, func(t *testing.T) {
			s := &Server{Handle: func(net.Conn, bool, *Conn) {}}
			stop(s)
			ln := testkit.Listen(t)
			if err := s.Serve(ln, nil); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Serve: %v, want net.ErrClosed", err)
			}
			if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("listener left open: Accept says %v", err)
			}
		})
	}
}

// scripted is a listener whose Accept returns errs in order, then conn,
// then last.
type scripted struct {
	mu   sync.Mutex
	errs []error
	conn net.Conn
	last error
}

func (l *scripted) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case len(l.errs) > 0:
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	case l.conn != nil:
		c := l.conn
		l.conn = nil
		return c, nil
	}
	return nil, l.last
}

func (l *scripted) Close() error   { return nil }
func (l *scripted) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestAcceptRetriesTemporaryErrors: EMFILE and its kin, and timeouts, are
// waited out with a doubling backoff, counted and logged once; the
// connection after them is served; a permanent error ends Serve.
func TestAcceptRetriesTemporaryErrors(t *testing.T) {
	cc, sc := net.Pipe()
	defer cc.Close()
	permanent := errors.New("listener broke")
	ln := &scripted{errs: []error{acceptErr(syscall.EMFILE), acceptErr(syscall.ENFILE), acceptErr(syscall.ENOBUFS),
		acceptErr(syscall.ENOMEM), acceptErr(syscall.ECONNABORTED), timeoutErr{}}, conn: sc, last: permanent}
	var logs testkit.SyncBuffer
	handled := make(chan struct{})
	s := &Server{Log: slog.New(slog.NewTextHandler(&logs, nil)), Handle: func(nc net.Conn, _ bool, _ *Conn) {
		close(handled)
	}}
	start := time.Now()
	err := s.Serve(ln, nil)
	took := time.Since(start)
	if !errors.Is(err, permanent) {
		t.Fatalf("Serve: %v, want the permanent error", err)
	}
	select {
	case <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection accepted after the errors was not handled")
	}
	if n := s.AcceptErrors(); n != 6 {
		t.Errorf("AcceptErrors = %d, want 6", n)
	}
	// 5+10+20+40+80+160 ms of backoff.
	if took < 315*time.Millisecond {
		t.Errorf("Serve retried six errors in %v: no backoff", took)
	}
	if n := strings.Count(logs.String(), "accept failed; retrying"); n != 1 {
		t.Errorf("%d accept-failure log lines for six errors within ten seconds, want 1:\n%s", n, logs.String())
	}
	s.Close()
}

func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{acceptErr(syscall.EMFILE), true},
		{acceptErr(syscall.ENFILE), true},
		{acceptErr(syscall.ENOBUFS), true},
		{acceptErr(syscall.ENOMEM), true},
		{acceptErr(syscall.ECONNABORTED), true},
		{timeoutErr{}, true},
		{acceptErr(syscall.EINVAL), false},
		{net.ErrClosed, false},
		{errors.New("other"), false},
	} {
		if got := Temporary(tc.err); got != tc.want {
			t.Errorf("Temporary(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// lineHandler is a toy protocol in the shape of the real ones: it answers
// each line with "OK <line>", holds "SLOW" until release is closed (telling
// entered, if not nil, that it is in it), and says BYE when the server
// drains.
func lineHandler(release <-chan struct{}, entered chan<- struct{}) func(nc net.Conn, _ bool, c *Conn) {
	return func(nc net.Conn, _ bool, c *Conn) {
		br := bufio.NewReader(nc)
		nc.Write([]byte("HELLO\r\n"))
		for {
			if !c.Idle() {
				nc.Write([]byte("BYE\r\n"))
				return
			}
			_ = nc.SetReadDeadline(time.Now().Add(time.Minute))
			l, err := br.ReadString('\n')
			c.Busy()
			if err != nil {
				if c.Draining() {
					nc.Write([]byte("BYE\r\n"))
				}
				return
			}
			l = strings.TrimSpace(l)
			if l == "SLOW" {
				if entered != nil {
					entered <- struct{}{}
				}
				<-release
				// The read deadline the handler set is back: a read now
				// is not cut short by the drain.
				_ = nc.SetReadDeadline(time.Now().Add(time.Minute))
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
			}
			nc.Write([]byte("OK " + l + "\r\n"))
		}
	}
}

// TestShutdownDrains: an idle session and one in the middle of a line get
// BYE at once; a session in a command finishes it, then gets BYE; Shutdown
// returns once they have all ended.
func TestShutdownDrains(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	s := &Server{Handle: lineHandler(release, entered)}
	ln := testkit.Listen(t)
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln, nil) }()
	addr := ln.Addr().String()
	idle, partial, busy := dial(t, addr), dial(t, addr), dial(t, addr)
	for _, c := range []*lineClient{idle, partial, busy} {
		if l := c.line(); l != "HELLO" {
			t.Fatalf("greeting %q", l)
		}
	}
	idle.send("ONE\r\n")
	if l := idle.line(); l != "OK ONE" {
		t.Fatalf("reply %q", l)
	}
	partial.send("HALF A LI")
	busy.send("SLOW\r\n")
	<-entered
	time.Sleep(50 * time.Millisecond) // the other handlers are in their reads (if not, they see the drain at Idle)
	shut := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { shut <- s.Shutdown(ctx) }()
	for name, c := range map[string]*lineClient{"idle": idle, "partial": partial} {
		if got := c.rest(); strings.Join(got, "|") != "BYE" {
			t.Errorf("%s session got %q before EOF, want BYE", name, got)
		}
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a command was running", err)
	default:
	}
	close(release)
	busy.send("NE\r\n")
	if got := busy.rest(); strings.Join(got, "|") != "OK SLOW|BYE" {
		t.Errorf("busy session got %q before EOF, want its reply then BYE", got)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve: %v, want net.ErrClosed", err)
	}
}

// TestShutdownGrace: a session that does not finish within the grace is
// closed, and Shutdown says the grace ran out.
func TestShutdownGrace(t *testing.T) {
	// SLOW then waits for a second line, which never comes.
	released := make(chan struct{})
	close(released)
	entered := make(chan struct{}, 1)
	s := &Server{Handle: lineHandler(released, entered)}
	ln := testkit.Listen(t)
	go s.Serve(ln, nil)
	c := dial(t, ln.Addr().String())
	c.line()
	c.send("SLOW\r\n")
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Errorf("Shutdown took %v", took)
	}
	if got := c.rest(); len(got) != 0 {
		t.Errorf("got %q, want the connection closed without a reply", got)
	}
}

type lineClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *lineClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	return &lineClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *lineClient) send(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *lineClient) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// rest reads lines until the server closes the connection.
func (c *lineClient) rest() []string {
	c.t.Helper()
	var out []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			if l != "" {
				out = append(out, l)
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("the server did not close the connection; read so far %q", out)
			}
			return out
		}
		out = append(out, strings.TrimSuffix(l, "\r\n"))
	}
}
