// Package netserve runs the accept loops of the protocol servers: it
// retries temporary accept errors, tracks listeners and connections, bounds
// connections per listener, and drains or closes everything at shutdown.
//
// Invariants:
//   - Serve returns net.ErrClosed once Shutdown or Close was called, also
//     when that happened before Serve; otherwise only on an accept error
//     that retrying cannot cure. Temporary errors (EMFILE, ENFILE, ENOBUFS,
//     ENOMEM, ECONNABORTED, timeouts) are retried with backoff from 5 ms
//     doubling to 1 s, counted, and logged at most once per ten seconds.
//   - A connection over MaxConns is told Busy and closed without reaching
//     the handler; refusals, like accept errors, are logged at most once
//     per ten seconds. SetMaxConns changes the bound while serving: the
//     next accepted connection is measured against the new one, and
//     lowering it closes no connection already handled.
//   - Shutdown stops accepting, then drains: a handler waiting for a
//     command has its read interrupted at once, a handler in a command
//     finishes it first (see Conn). What is still open when Shutdown's
//     context ends is closed. Close closes at once.
//   - Shutdown and Close return once every handler returned, or, if a
//     handler ignores its closed connection, after closeWait (logged).
package netserve

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// closeWait bounds how long Shutdown and Close wait for handlers once
// their connections are closed.
const closeWait = 5 * time.Second

// Server is the accept side of one protocol server. Set the fields, then
// call Serve for each listener. The zero value is not usable: Handle is
// required.
type Server struct {
	// Handle serves one connection. nc is c, or a TLS connection over c
	// when secure (implicit-TLS listeners). Handle must return when the
	// connection is closed, and should take part in draining through c.
	Handle func(nc net.Conn, secure bool, c *Conn)
	// MaxConns bounds concurrent connections per listener; 0: no bound.
	// SetMaxConns replaces it while serving.
	MaxConns int
	// Busy is written to a connection refused for MaxConns.
	Busy string
	Log  *slog.Logger

	acceptErrors atomic.Uint64
	accepted     atomic.Uint64
	refused      atomic.Uint64
	refusals     throttle            // of the log of connections refused for MaxConns
	maxSet       atomic.Pointer[int] // SetMaxConns's bound, in place of MaxConns
	mu           struct {
		sync.Mutex
		closed    bool
		listeners map[*Listener]struct{}
		conns     map[*Conn]struct{}
	}
	wg sync.WaitGroup
}

// AcceptErrors returns how many accept errors Serve retried, on every
// listener.
func (s *Server) AcceptErrors() uint64 { return s.acceptErrors.Load() }

// Stats are a Server's connection counts, read at once for the metrics.
type Stats struct {
	Open         int    // connections being handled now
	Accepted     uint64 // connections handed to Handle since start
	Refused      uint64 // connections refused for MaxConns
	AcceptErrors uint64 // temporary accept errors retried
}

// Stats returns the connection counts over every listener.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	open := len(s.mu.conns)
	s.mu.Unlock()
	return Stats{Open: open, Accepted: s.accepted.Load(), Refused: s.refused.Load(), AcceptErrors: s.acceptErrors.Load()}
}

// SetMaxConns sets the bound of concurrent connections per listener
// (MaxConns) while serving (a configuration reload); 0: no bound. Each
// listener compares the connections it is handling with the new bound at
// its next accept: raised, it takes more at once; lowered, it refuses new
// ones until enough of those open have ended, and ends none of them.
func (s *Server) SetMaxConns(n int) { s.maxSet.Store(&n) }

// maxConns is the bound in effect.
func (s *Server) maxConns() int {
	if p := s.maxSet.Load(); p != nil {
		return *p
	}
	return s.MaxConns
}

// Serve accepts on ln until Shutdown or Close. With cfg set, connections
// are TLS from the first byte (RFC 8314 implicit TLS) and handled as secure.
func (s *Server) Serve(ln net.Listener, cfg *tls.Config) error {
	secure := cfg != nil
	rl := newListener(ln, s.log(), &s.acceptErrors)
	if !s.register(rl) {
		rl.Close()
		return net.ErrClosed
	}
	defer s.unregister(rl)
	// open counts this listener's connections being handled; only this
	// loop adds to it, so comparing and then adding does not race.
	var open atomic.Int64
	for {
		nc, err := rl.Accept()
		if err != nil {
			if s.isClosed() || errors.Is(err, net.ErrClosed) {
				return net.ErrClosed
			}
			s.log().Error("accept failed; this listener stops serving", "addr", ln.Addr().String(), "err", err)
			return err
		}
		if m := s.maxConns(); m > 0 && open.Load() >= int64(m) {
			s.refused.Add(1)
			s.refuse(nc, m)
			continue
		}
		c := &Conn{Conn: nc}
		if !s.track(c) {
			nc.Close()
			return net.ErrClosed
		}
		open.Add(1)
		s.accepted.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			defer open.Add(-1)
			var hc net.Conn = c
			if secure {
				hc = tls.Server(c, cfg)
			}
			s.Handle(hc, secure, c)
		}()
	}
}

// refuse tells nc the server is full and closes it. The log says so at
// most once per ten seconds, with the number of refusals it stands for.
func (s *Server) refuse(nc net.Conn, max int) {
	if ok, held := s.refusals.allow(); ok {
		s.log().Warn("connection refused: too many connections (max_connections)", "remote", nc.RemoteAddr().String(),
			"max", max, "not_logged_since_last", held)
	}
	_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = nc.Write([]byte(s.Busy))
	nc.Close()
}

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Server) register(l *Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	if s.mu.listeners == nil {
		s.mu.listeners = map[*Listener]struct{}{}
		s.mu.conns = map[*Conn]struct{}{}
	}
	s.mu.listeners[l] = struct{}{}
	return true
}

func (s *Server) unregister(l *Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.listeners, l)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// track registers c; false once closed. It adds to wg under the lock so
// Shutdown never waits on a WaitGroup that can still grow.
func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.mu.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *Conn) {
	c.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, c)
}

// stop marks the server closed, closes the listeners and returns the
// connections open now.
func (s *Server) stop() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.closed = true
	for l := range s.mu.listeners {
		l.Close()
	}
	conns := make([]*Conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	return conns
}

// Shutdown stops accepting and drains every connection (see Conn), until
// the handlers return or ctx ends; then it closes what is left and returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	for _, c := range s.stop() {
		c.drain()
	}
	done := s.handlersDone()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	conns := s.stop()
	if len(conns) > 0 {
		s.log().Warn("closing connections still busy after the shutdown grace", "connections", len(conns))
	}
	s.closeAll(conns, done)
	return ctx.Err()
}

// Close stops accepting, closes every connection and waits for the
// handlers.
func (s *Server) Close() {
	s.closeAll(s.stop(), s.handlersDone())
}

func (s *Server) closeAll(conns []*Conn, done <-chan struct{}) {
	for _, c := range conns {
		c.Close()
	}
	select {
	case <-done:
	case <-time.After(closeWait):
		s.log().Error("handlers still running after their connections were closed", "waited", closeWait)
	}
}

func (s *Server) handlersDone() <-chan struct{} {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	return done
}
