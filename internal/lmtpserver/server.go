package lmtpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// Options configure a Server. Zero values get the defaults named below.
type Options struct {
	Store    Store
	Logger   *slog.Logger // nil discards logs
	Hostname string       // the name in the greeting and LHLO reply; "" is os.Hostname
	// MaxMessageSize is the largest message accepted, in bytes, advertised
	// with SIZE (RFC 1870); 0 means no limit.
	MaxMessageSize int64
	// MaxRecipients bounds the accepted recipients of one transaction; 0 means 1000.
	MaxRecipients int
	// MaxLineLength bounds a command line, CRLF included; 0 means 2000.
	MaxLineLength int
	// MaxConnections bounds concurrent sessions; beyond it a new connection
	// gets 421 4.3.2 and is closed. 0 means no limit.
	MaxConnections int
	// Timeout bounds each read and write on a connection, so a session that
	// stays silent that long is closed; 0 means 5 minutes (RFC 5321 4.5.3.2).
	Timeout time.Duration
	// ShutdownGrace is how long Close lets busy sessions finish before it
	// closes their connections; 0 means 15 seconds.
	ShutdownGrace time.Duration
}

// Store is what the server needs of the message store; *store.Store
// satisfies it.
type Store interface {
	// User returns the user an address delivers to (a +detail is ignored).
	User(ctx context.Context, address string) (store.User, error)
	// Spool reads a whole message; more than maxSize bytes is mail.ErrTooBig.
	Spool(r io.Reader, maxSize int64) (*store.Spooled, error)
	// Deliver stores sp in each recipient's INBOX, one error per recipient.
	Deliver(ctx context.Context, sp *store.Spooled, returnPath string, rcpts []store.User) []error
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("lmtpserver: server closed")

// Server is an LMTP server. It is safe for concurrent use.
type Server struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // canceled when Close stops waiting for sessions
	cancel context.CancelFunc
	wg     sync.WaitGroup // sessions and rejections in flight

	closing atomic.Bool
	mu      struct {
		sync.Mutex
		listeners map[net.Listener]struct{}
		sessions  map[*session]struct{}
	}
}

// New returns a server; it serves nothing until Serve.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
		if o.Hostname == "" {
			o.Hostname = "localhost"
		}
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 1000
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 2000
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 15 * time.Second
	}
	s := &Server{opts: o, log: o.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.sessions = make(map[*session]struct{})
	return s
}

// Serve accepts connections on ln and serves each in its own goroutine. It
// returns nil once Close is called, or the listener's error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, ln)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors and the like: wait, then retry.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("lmtp: accept failed", "err", err, "retry_in", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		s.accept(c)
	}
}

// accept starts a session for c, or turns c away if the server is full
// or closing.
func (s *Server) accept(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		_ = c.Close()
		return
	}
	s.wg.Add(1)
	if n := s.opts.MaxConnections; n > 0 && len(s.mu.sessions) >= n {
		go s.reject(c)
		return
	}
	ss := newSession(s, c, newSessionID())
	s.mu.sessions[ss] = struct{}{}
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.mu.sessions, ss)
			s.mu.Unlock()
		}()
		ss.serve()
	}()
}

// reject tells c the server is full and closes it.
func (s *Server) reject(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	s.log.Warn("lmtp: connection refused: too many connections",
		"remote", c.RemoteAddr().String(), "max", s.opts.MaxConnections)
	_ = c.SetWriteDeadline(time.Now().Add(min(s.opts.Timeout, 10*time.Second)))
	_, _ = fmt.Fprintf(c, "421 4.3.2 %s too many connections, try again later\r\n", s.opts.Hostname)
}

// Close stops accepting connections and ends the sessions: idle sessions
// at once (421 4.3.2), sessions in a transaction when it ends or after
// ShutdownGrace, whichever comes first. Close returns when every session
// has ended, or a few seconds after the grace if a store call ignores its
// canceled context.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closing.Swap(true) {
		s.mu.Unlock()
		return nil
	}
	var err error
	for ln := range s.mu.listeners {
		if e := ln.Close(); e != nil && err == nil {
			err = e
		}
	}
	sessions := s.sessionsLocked()
	s.mu.Unlock()
	for _, ss := range sessions {
		ss.stop()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.opts.ShutdownGrace):
		s.mu.Lock()
		sessions = s.sessionsLocked()
		s.mu.Unlock()
		s.log.Warn("lmtp: closing sessions still busy after the shutdown grace", "sessions", len(sessions))
		s.cancel()
		for _, ss := range sessions {
			_ = ss.conn.Close()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.log.Error("lmtp: sessions did not end after their connections were closed")
		}
	}
	s.cancel()
	return err
}

// sessionsLocked returns the live sessions. It must be called with mu held.
func (s *Server) sessionsLocked() []*session {
	out := make([]*session, 0, len(s.mu.sessions))
	for ss := range s.mu.sessions {
		out = append(out, ss)
	}
	return out
}

func newSessionID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
