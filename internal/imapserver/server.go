package imapserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
)

// Options configure a Server. Zero limits take the defaults noted.
type Options struct {
	Store  *store.Store
	Auth   *login.Authenticator
	Hub    *notify.Hub // wakes IDLE and selected sessions; nil: only the Recheck timer
	Logger *slog.Logger

	Hostname       string
	TLS            *tls.Config // nil: no STARTTLS and no implicit TLS
	AllowPlaintext bool        // LOGIN and AUTHENTICATE without TLS

	MaxLineLength  int   // command text, literals excluded (default 64 KiB)
	MaxLiteralSize int64 // one APPEND message, advertised as APPENDLIMIT (default 50 MiB)
	MaxConnections int   // per listener; 0 means no limit
	// MaxConnectionsPerUser and MaxConnectionsPerIP bound sessions on this
	// server; 0 means no limit.
	MaxConnectionsPerUser, MaxConnectionsPerIP int
	MaxBadCommands                             int           // in a row before closing (default 20)
	Timeout                                    time.Duration // idle (default 30 min, RFC 9051 5.4)
	Recheck                                    time.Duration // re-read a selected mailbox's head (default 30 s)
}

// Server is an IMAP server. Serve it on listeners; Close stops it.
type Server struct {
	opts    Options
	log     *slog.Logger
	perUser *login.Limiter
	perIP   *login.Limiter
	recent  recentTracker
	nextID  atomic.Uint64

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		conns     map[*conn]struct{}
	}
	wg sync.WaitGroup
}

// New returns a Server with opts.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Hostname == "" {
		opts.Hostname = "localhost"
	}
	if opts.MaxLineLength <= 0 {
		opts.MaxLineLength = 64 << 10
	}
	if opts.MaxLiteralSize <= 0 {
		opts.MaxLiteralSize = 50 << 20
	}
	if opts.MaxBadCommands <= 0 {
		opts.MaxBadCommands = 20
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Minute
	}
	if opts.Recheck <= 0 {
		opts.Recheck = 30 * time.Second
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		perUser: login.NewLimiter(opts.MaxConnectionsPerUser),
		perIP:   login.NewLimiter(opts.MaxConnectionsPerIP),
	}
	s.recent.m = make(map[string]mail.UID)
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.conns = make(map[*conn]struct{})
	return s
}

// Serve accepts plain connections on ln (STARTTLS is offered when TLS is
// configured) until Close. It returns net.ErrClosed after Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS accepts implicit-TLS connections (RFC 8314, port 993) on ln.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLS == nil {
		return errors.New("imapserver: ServeTLS needs Options.TLS")
	}
	return s.serve(tls.NewListener(ln, s.opts.TLS), true)
}

func (s *Server) serve(ln net.Listener, implicitTLS bool) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	s.mu.listeners[ln] = struct{}{}
	s.mu.Unlock()
	sem := make(chan struct{}, max(s.opts.MaxConnections, 1))
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
		if s.opts.MaxConnections > 0 {
			select {
			case sem <- struct{}{}:
			default:
				// RFC 9051 7.1.5: BYE and close when the server will not serve.
				_ = nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = nc.Write([]byte("* BYE [UNAVAILABLE] Too many connections, try again later\r\n"))
				nc.Close()
				continue
			}
		} else {
			sem = nil
		}
		c := s.newConn(nc, implicitTLS)
		if !s.track(c) {
			nc.Close()
			return net.ErrClosed
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.untrack(c)
			if sem != nil {
				defer func() { <-sem }()
			}
			c.serve()
		}()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.mu.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, c)
}

// Close stops accepting, tells every session BYE, closes them and waits.
func (s *Server) Close() error {
	s.mu.Lock()
	s.mu.closed = true
	for ln := range s.mu.listeners {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.mu.conns))
	for c := range s.mu.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.log.Warn("imap: sessions still running 10s after close")
	}
	return nil
}

// recentTracker gives each new message the \Recent flag in exactly one
// session of this server (RFC 3501 2.3.2): the first that selects the
// mailbox, read-write, after the message arrived. It is kept in memory, so
// after a restart the first session sees every message as recent, and
// sessions on different hosts each claim their own (a documented
// approximation: IMAP4rev2 dropped \Recent).
type recentTracker struct {
	mu sync.Mutex
	m  map[string]mail.UID // mailbox ID -> highest UID claimed
}

// claim marks UIDs up to last as taken and returns the previous mark: the
// caller's recent messages are those above it.
func (r *recentTracker) claim(mailboxID string, last mail.UID, take bool) mail.UID {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.m[mailboxID]
	if take && last > prev {
		r.m[mailboxID] = last
	}
	return prev
}

// ctx returns a context for one store operation of a session.
func (s *Server) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}
