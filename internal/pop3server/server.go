package pop3server

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/store"
)

// Store is what the server needs of the message store; *store.Store
// implements it.
type Store interface {
	Mailbox(ctx context.Context, u store.User, name string) (store.Mailbox, error)
	Messages(ctx context.Context, mb store.Mailbox, lo, hi mail.UID, fn func(store.MessageRow) error) error
	OpenBody(ctx context.Context, m store.MessageMeta) (store.Blob, error)
	Expunge(ctx context.Context, mb store.Mailbox, uids []mail.UID) ([]mail.UID, error)
	StoreFlags(ctx context.Context, mb store.Mailbox, uids []mail.UID, op store.FlagOp, fs mail.Flags, unchangedSince mail.ModSeq) (store.StoreResult, error)
}

// Options configure a Server; zero limits take the defaults noted.
type Options struct {
	Store          Store
	Auth           *login.Authenticator
	Logger         *slog.Logger
	Hostname       string
	TLS            *tls.Config // nil: no STLS and no implicit TLS
	AllowPlaintext bool        // USER/PASS and AUTH without TLS
	// TrustedProxies are front-end proxies (server.trusted_proxies): a
	// connection from one may log in without TLS and name its client
	// with XCLIENT before login (see xclient).
	TrustedProxies login.Proxies
	MaxBadCommands int           // default 10
	MaxLineLength  int           // bytes, CRLF included (default 1024)
	MaxConnections int           // per listener; 0 means no limit
	Timeout        time.Duration // idle (default 10 minutes, RFC 1939 3)
	// Observer is told of every command and authenticated session, for
	// the metrics; nil: no one is told.
	Observer Observer
	// SlowCommand: a command that runs at least this long is logged at
	// Warn with its time (log.slow_command); 0: none is.
	SlowCommand time.Duration
}

// Observer is what the server tells of its work (cmd/quire passes the
// Prometheus side, internal/metrics). Its methods run on the sessions'
// goroutines after each command: safe for concurrent use, and cheap.
type Observer interface {
	// Command reports a command that ran: its name (upper case, as the
	// client sent it), its status ("+OK", "-ERR", or "" when it sent no
	// reply) and its time.
	Command(name, status string, d time.Duration)
	// Session reports +1 when a session enters the TRANSACTION state
	// and -1 when it leaves it.
	Session(delta int)
}

type noObserver struct{}

func (noObserver) Command(string, string, time.Duration) {}
func (noObserver) Session(int)                           {}

// Commands lists the command names the server runs (RFC 1939, 2449,
// 5034, 2595), for an Observer that prepares a counter for each.
func Commands() []string {
	return []string{"USER", "PASS", "APOP", "AUTH", "CAPA", "STLS", "QUIT", "STAT", "LIST", "RETR",
		"DELE", "NOOP", "RSET", "TOP", "UIDL"}
}

// Server is a POP3 server.
type Server struct {
	opts   Options
	log    *slog.Logger
	nextID atomic.Uint64
	ns     netserve.Server
	mu     struct {
		sync.Mutex
		inUse map[string]bool // user IDs with a session in TRANSACTION state
	}
}

// New returns a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxBadCommands <= 0 {
		o.MaxBadCommands = 10
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 1024
	}
	o.MaxLineLength = max(o.MaxLineLength, 255) // RFC 2449 4
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	s := &Server{opts: o, log: o.Logger}
	s.mu.inUse = map[string]bool{}
	s.ns = netserve.Server{
		MaxConns: o.MaxConnections,
		Busy:     "-ERR [SYS/TEMP] too many connections, try again later\r\n",
		Log:      o.Logger,
		Handle:   func(nc net.Conn, secure bool, d *netserve.Conn) { s.newConn(nc, secure, d).serve() },
	}
	return s
}

// Serve accepts plain connections (STLS offered when TLS is set) until
// Shutdown or Close, and then returns net.ErrClosed (at once if they were
// called before). Temporary accept errors such as EMFILE are retried.
func (s *Server) Serve(ln net.Listener) error { return s.ns.Serve(ln, nil) }

// ServeTLS accepts implicit-TLS connections (pop3s, port 995).
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLS == nil {
		return errors.New("pop3server: ServeTLS needs Options.TLS")
	}
	return s.ns.Serve(ln, s.opts.TLS)
}

// Shutdown stops accepting and ends every session: one waiting for a
// command gets "-ERR [SYS/TEMP] server shutting down" at once, one running
// a command after its reply. Sessions still open when ctx ends are closed;
// Shutdown then returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.ns.Shutdown(ctx) }

// Close stops the listeners, closes every session at once and waits for
// them.
func (s *Server) Close() error {
	s.ns.Close()
	return nil
}

// drainer is the session's part in a graceful shutdown (netserve.Conn):
// Idle before waiting for a command (false: the server is shutting down),
// Busy while running one, Draining to tell an interrupted read from a
// client's fault.
type drainer interface {
	Idle() bool
	Busy()
	Draining() bool
}

// lock takes the user's maildrop for a session; false if it is taken.
func (s *Server) lock(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.inUse[userID] {
		return false
	}
	s.mu.inUse[userID] = true
	return true
}

func (s *Server) unlock(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.inUse, userID)
}

func (s *Server) newConn(nc net.Conn, secure bool, d drainer) *conn {
	id := strconv.FormatUint(s.nextID.Add(1), 36)
	ip, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		ip = nc.RemoteAddr().String()
	}
	c := &conn{srv: s, nc: nc, drain: d, secure: secure, remoteIP: ip, viaProxy: s.opts.TrustedProxies.Contains(ip), id: id,
		log: s.log.With("proto", "pop3", "session", id, "remote", nc.RemoteAddr().String())}
	c.setStream(nc)
	return c
}

// Connections returns the connection counts of every listener, for the
// metrics.
func (s *Server) Connections() netserve.Stats { return s.ns.Stats() }

// SetMaxConnections replaces Options.MaxConnections while serving: the
// next connection is measured against it, and lowering it ends no
// session (the refused get -ERR [SYS/TEMP]).
func (s *Server) SetMaxConnections(n int) { s.ns.SetMaxConns(n) }
