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

	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/search"

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

	// TrustedProxies are the addresses of front-end proxies (quire proxy,
	// server.trusted_proxies). A connection from one may log in without
	// TLS (the proxy holds the client's TLS), is exempt from
	// MaxConnectionsPerIP until it names its client, and may name it with
	// ID's "x-originating-ip" before login (RFC 2971): the session then
	// counts, throttles and logs that client's address. From anyone else
	// the parameter is only logged.
	TrustedProxies login.Proxies
	// LoginReferrals advertises LOGIN-REFERRALS (RFC 2221): Auth refers
	// users of other store affinity groups (login.Placement).
	LoginReferrals bool

	MaxLineLength  int   // command text, literals excluded (default 64 KiB)
	MaxLiteralSize int64 // one APPEND message, advertised as APPENDLIMIT (default 50 MiB)
	MaxConnections int   // per listener; 0 means no limit
	// MaxConnectionsPerUser and MaxConnectionsPerIP bound sessions on this
	// server; 0 means no limit.
	MaxConnectionsPerUser, MaxConnectionsPerIP int
	MaxBadCommands                             int           // in a row before closing (default 20)
	Timeout                                    time.Duration // idle (default 30 min, RFC 9051 5.4)
	Recheck                                    time.Duration // re-read a selected mailbox's head (default 30 s)

	// Search narrows SEARCH, SORT and THREAD's text criteria (package
	// search); nil: every message is read.
	Search search.Index
	// Attachments returns the converted text of a message's attachments
	// (convert.Converter.Attachments), which BODY and TEXT then match; nil:
	// they match the text parts only.
	Attachments func(ctx context.Context, raw []byte, root *message.Part) string

	// Observer is told of every command and authenticated session, for
	// the metrics; nil: no one is told.
	Observer Observer
	// EnvelopeCache bounds the bytes of encoded envelopes kept for FETCH
	// ENVELOPE (imap.envelope_cache, envcache.go); 0 keeps none.
	EnvelopeCache int64
	// PhraseFilterCache bounds the bytes of phrase filters kept in memory
	// (imap.phrase_filter_cache, pairs.go); 0 keeps none.
	PhraseFilterCache int64
	// SlowCommand: a command that runs at least this long is logged at
	// Warn with its time (log.slow_command); 0: none is. IDLE, whose time
	// is the client's, never is.
	SlowCommand time.Duration
}

// Observer is what the server tells of its work (cmd/quire passes the
// Prometheus side, internal/metrics). Its methods run on the sessions'
// goroutines after each command, so they must be safe for concurrent use
// and cheap: no allocation, no lock shared by all sessions.
type Observer interface {
	// Command reports a command that ran: its name as parsed (upper
	// case), its tagged status ("OK", "NO", "BAD", or "" when it sent
	// none) and its time. A command refused while it was read (a syntax
	// error, a line or literal over its limit) is reported with name ""
	// and no time.
	Command(name, status string, d time.Duration)
	// Session reports +1 when a session authenticates and -1 when an
	// authenticated session ends.
	Session(delta int)
}

type noObserver struct{}

func (noObserver) Command(string, string, time.Duration) {}
func (noObserver) Session(int)                           {}

// Commands lists the command names the server runs, for an Observer
// that prepares a counter for each (any other name is a client's typo).
func Commands() []string {
	return []string{"CAPABILITY", "NOOP", "CHECK", "LOGOUT", "ID", "STARTTLS", "LOGIN", "AUTHENTICATE",
		"ENABLE", "COMPRESS", "NAMESPACE", "SELECT", "EXAMINE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
		"UNSUBSCRIBE", "LIST", "LSUB", "STATUS", "APPEND", "IDLE", "GETQUOTA", "GETQUOTAROOT", "SETQUOTA",
		"CLOSE", "UNSELECT", "EXPUNGE", "FETCH", "STORE", "COPY", "MOVE", "SEARCH", "SORT", "THREAD"}
}

// Server is an IMAP server. Serve it on listeners; Close stops it.
type Server struct {
	opts    Options
	log     *slog.Logger
	perUser *login.Limiter
	perIP   *login.Limiter
	recent  recentTracker
	nextID  atomic.Uint64
	// envelopes are the encoded envelopes FETCH keeps (envcache.go).
	envelopes *envelopeCache
	filters   *filterCache
	ns        netserve.Server
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
	if opts.Observer == nil {
		opts.Observer = noObserver{}
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		perUser: login.NewLimiter(opts.MaxConnectionsPerUser),
		perIP:   login.NewLimiter(opts.MaxConnectionsPerIP),

		envelopes: newEnvelopeCache(opts.EnvelopeCache),
		filters:   newFilterCache(opts.PhraseFilterCache),
	}
	s.recent.m = make(map[string]mail.UID)
	s.ns = netserve.Server{
		MaxConns: opts.MaxConnections,
		// RFC 9051 7.1.5: BYE and close when the server will not serve.
		Busy:   "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
		Log:    opts.Logger,
		Handle: func(nc net.Conn, secure bool, d *netserve.Conn) { s.newConn(nc, secure, d).serve() },
	}
	return s
}

// Serve accepts plain connections on ln (STARTTLS is offered when TLS is
// configured) until Shutdown or Close, and then returns net.ErrClosed (at
// once if they were called before). Temporary accept errors such as EMFILE
// are retried (package netserve).
func (s *Server) Serve(ln net.Listener) error { return s.ns.Serve(ln, nil) }

// ServeTLS accepts implicit-TLS connections (RFC 8314, port 993) on ln.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.opts.TLS == nil {
		return errors.New("imapserver: ServeTLS needs Options.TLS")
	}
	return s.ns.Serve(ln, s.opts.TLS)
}

// Shutdown stops accepting and ends every session with an untagged BYE
// (RFC 9051 7.1.5): a session waiting for a command, in IDLE or in the
// middle of reading a command gets it at once, a session running a command
// after its tagged reply. Sessions still open when ctx ends are closed
// without one; Shutdown then returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.ns.Shutdown(ctx) }

// Close stops accepting, closes every session at once and waits for them.
func (s *Server) Close() error {
	s.ns.Close()
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

// Limits are the connection bounds a running server takes (a
// configuration reload); 0 means no limit, as in Options.
type Limits struct {
	MaxConnections        int // per listener
	MaxConnectionsPerUser int
	MaxConnectionsPerIP   int
}

// SetLimits replaces Options.MaxConnections, MaxConnectionsPerUser and
// MaxConnectionsPerIP while serving. They apply to the next connection
// and the next login; sessions open over a lowered bound are kept, and
// count against it (RFC 9051 7.1.5: the refused get BYE [UNAVAILABLE]).
func (s *Server) SetLimits(l Limits) {
	s.ns.SetMaxConns(l.MaxConnections)
	s.perUser.SetMax(l.MaxConnectionsPerUser)
	s.perIP.SetMax(l.MaxConnectionsPerIP)
}

// Connections returns the connection counts of every listener, for the
// metrics.
func (s *Server) Connections() netserve.Stats { return s.ns.Stats() }
