// Package netserve runs the accept loops of the protocol servers: it
// tracks listeners and connections, bounds connections per listener, and
// closes everything on Close.
//
// Invariants: Serve returns net.ErrClosed once Close was called; Close
// returns only after every handler returned (or the grace period passed,
// which it logs); a connection over the limit is told Busy and closed
// without reaching the handler.
package netserve

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Server is the accept side of one protocol server. Set the fields, then
// call Serve for each listener. The zero value is not usable: Handle is
// required.
type Server struct {
	// Handle serves one connection; secure is true on implicit-TLS
	// listeners. It must return when the connection is closed.
	Handle func(nc net.Conn, secure bool)
	// MaxConns bounds concurrent connections per listener; 0: no bound.
	MaxConns int
	// Busy is written to a connection refused for MaxConns.
	Busy string
	Log  *slog.Logger

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		conns     map[net.Conn]struct{}
	}
	wg sync.WaitGroup
}

// Serve accepts on ln until Close. With cfg set, connections are TLS from
// the first byte (RFC 8314 implicit TLS) and handled as secure.
func (s *Server) Serve(ln net.Listener, cfg *tls.Config) error {
	secure := cfg != nil
	if secure {
		ln = tls.NewListener(ln, cfg)
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	if s.mu.listeners == nil {
		s.mu.listeners = map[net.Listener]struct{}{}
		s.mu.conns = map[net.Conn]struct{}{}
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var sem chan struct{}
	if s.MaxConns > 0 {
		sem = make(chan struct{}, s.MaxConns)
	}
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			if s.isClosed() {
				return net.ErrClosed
			}
			return err
		}
		backoff = 0
		if sem != nil {
			select {
			case sem <- struct{}{}:
			default:
				_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = nc.Write([]byte(s.Busy))
				nc.Close()
				continue
			}
		}
		if !s.track(nc) {
			nc.Close()
			return net.ErrClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(nc)
			if sem != nil {
				defer func() { <-sem }()
			}
			s.Handle(nc, secure)
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// track registers nc; false once closed. It adds to wg under the lock so
// Close never waits on a WaitGroup that can still grow.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.mu.conns[nc] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(nc net.Conn) {
	nc.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, nc)
}

// Close stops accepting, closes every connection and waits up to grace
// for the handlers to return.
func (s *Server) Close(grace time.Duration) {
	s.mu.Lock()
	s.mu.closed = true
	for ln := range s.mu.listeners {
		ln.Close()
	}
	for nc := range s.mu.conns {
		nc.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		if s.Log != nil {
			s.Log.Warn("netserve: handlers still running after close", "grace", grace)
		}
	}
}
