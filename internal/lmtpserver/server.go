package lmtpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/quiremail/quire/internal/netserve"
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
	// MaxConnections bounds concurrent sessions per listener; beyond it a
	// new connection gets 421 4.3.2 and is closed. 0 means no limit.
	MaxConnections int
	// Timeout bounds each read and write on a connection, so a session that
	// stays silent that long is closed; 0 means 5 minutes (RFC 5321 4.5.3.2).
	Timeout time.Duration
	// Observer is told of every recipient's reply, for the metrics; nil:
	// no one is told.
	Observer Observer
	// SlowCommand: a command that runs at least this long is logged at
	// Warn with its time (log.slow_command); DATA and BDAT LAST count
	// from the command to the replies, the message's transfer included.
	// 0: none is.
	SlowCommand time.Duration
}

// Observer is what the server tells of its work (cmd/quire passes the
// Prometheus side, internal/metrics). Its methods run on the session's
// goroutine: they must be safe for concurrent use and cheap.
type Observer interface {
	// Recipient reports the reply to one RCPT command: its three-digit
	// code (250 accepted; 550 unknown user, 451 lookup failed, 452 too
	// many recipients, 501 and 555 syntax, 503 out of sequence: see the
	// table in the package doc).
	Recipient(code string)
	// Delivery reports the reply one recipient got at the end of DATA or
	// BDAT LAST: its three-digit code ("250", "451", "552", ...) and the
	// time since DATA or the first BDAT. It runs once per accepted
	// recipient of a finished transaction.
	Delivery(code string, d time.Duration)
}

type noObserver struct{}

func (noObserver) Recipient(string)               {}
func (noObserver) Delivery(string, time.Duration) {}

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

// Server is an LMTP server. It is safe for concurrent use.
type Server struct {
	opts   Options
	log    *slog.Logger
	ctx    context.Context // of store calls; canceled when the shutdown grace ends
	cancel context.CancelFunc
	ns     netserve.Server
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
	if o.Observer == nil {
		o.Observer = noObserver{}
	}
	s := &Server{opts: o, log: o.Logger.With("proto", "lmtp")}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.ns = netserve.Server{
		MaxConns: o.MaxConnections,
		Busy:     "421 4.3.2 " + o.Hostname + " too many connections, try again later\r\n",
		Log:      s.log,
		Handle: func(nc net.Conn, _ bool, d *netserve.Conn) {
			newSession(s, nc, d, newSessionID()).serve()
		},
	}
	return s
}

// Serve accepts connections on ln and serves each in its own goroutine,
// until Shutdown or Close; it then returns net.ErrClosed (at once if they
// were called before). Temporary accept errors such as EMFILE are retried
// (package netserve).
func (s *Server) Serve(ln net.Listener) error { return s.ns.Serve(ln, nil) }

// Shutdown stops accepting connections and ends the sessions: idle
// sessions at once (421 4.3.2, RFC 5321 3.8), sessions in a transaction
// when it ends, its replies sent. When ctx ends first, the store calls in
// progress are canceled and the connections closed; Shutdown then returns
// ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	err := s.ns.Shutdown(ctx)
	s.cancel()
	return err
}

// Close stops accepting, cancels the store calls in progress and closes
// every connection at once.
func (s *Server) Close() error {
	s.cancel()
	s.ns.Close()
	return nil
}

func newSessionID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Connections returns the connection counts of every listener, for the
// metrics.
func (s *Server) Connections() netserve.Stats { return s.ns.Stats() }

// SetMaxConnections replaces Options.MaxConnections while serving: the
// next connection is measured against it (over it: 421 4.3.2), and
// lowering it ends no session.
func (s *Server) SetMaxConnections(n int) { s.ns.SetMaxConns(n) }
