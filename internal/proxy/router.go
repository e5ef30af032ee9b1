// Package proxy is the front end, "quire proxy" (DESIGN.md section 5): it
// speaks the part of IMAP and POP3 before login itself, looks the user up
// in the directory, connects to the first live access host of the user's
// store affinity group, logs in there, and then copies bytes both ways;
// for LMTP it splits a transaction into one per group.
//
// Invariants:
//   - The proxy holds no mail: after login a session is a byte copy,
//     nothing parsed (splice(2) between plain TCP connections), and an
//     LMTP message is held only until every group has answered.
//   - A group's hosts are tried in storehostlist order; a host that did
//     not answer (connect or greeting) is skipped for HostRetry, and tried
//     again only when every host of its group is being skipped.
//   - The access host learns the client's address (IMAP ID
//     "x-originating-ip", POP3 XCLIENT) before the login is sent, so its
//     login throttling and logs see the client, not the proxy.
//   - A login is answered once: by the proxy when it refuses (throttled,
//     unknown user, no live host), else by the access host's own reply,
//     passed on with the client's tag.
package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/directory"
)

// Directory is where the proxy looks users up (package storedir, ldapdir,
// or account.Accounts).
type Directory interface {
	Lookup(ctx context.Context, address string) (directory.Entry, error)
}

// ErrNoGroup is a user whose mailHost names no store affinity group (and
// no default group serves an empty one): a configuration error, answered
// as temporary.
var ErrNoGroup = errors.New("proxy: the user's mailHost names no store affinity group")

// ErrNoHost means no host of a group answered.
var ErrNoHost = errors.New("proxy: no access host of the group answers")

// RouterOptions configure a Router.
type RouterOptions struct {
	Groups directory.Groups
	// DefaultGroup serves users with an empty mailHost; "" refuses them.
	DefaultGroup string
	// ConnectTimeout bounds a connection to a host with its greeting
	// (default 5 s); HostRetry is how long a failed host is skipped
	// (default 30 s).
	ConnectTimeout, HostRetry time.Duration
	Logger                    *slog.Logger
	Now                       func() time.Time // default time.Now
	// Observer is told of logins, routed sessions, connections to hosts
	// and LMTP replies (nil: nobody).
	Observer Observer
}

// Router picks the access host for a group: the first live one. It is
// safe for concurrent use and shared by the protocols; failures are kept
// per host and port (a host may serve IMAP and not POP3).
type Router struct {
	o    RouterOptions
	dial net.Dialer
	mu   struct {
		sync.Mutex
		down map[string]time.Time // host:port → skipped until
	}
}

// NewRouter returns a Router with o.
func NewRouter(o RouterOptions) *Router {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.HostRetry <= 0 {
		o.HostRetry = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	r := &Router{o: o}
	r.mu.down = map[string]time.Time{}
	return r
}

// Group returns the group serving e: the group its mailHost names, or the
// default group for an empty mailHost.
func (r *Router) Group(e directory.Entry) (string, error) {
	if e.MailHost == "" {
		if r.o.DefaultGroup != "" {
			return r.o.DefaultGroup, nil
		}
		return "", fmt.Errorf("%w: %s has no mailHost and proxy.default_group is not set", ErrNoGroup, e.Address)
	}
	g, ok := r.o.Groups.Resolve(e.MailHost)
	if !ok {
		return "", fmt.Errorf("%w: %s has mailHost %q, which store.storehostlist does not define", ErrNoGroup, e.Address, e.MailHost)
	}
	return g, nil
}

// Backend is a connection to an access host, past its greeting.
type Backend struct {
	net.Conn
	R    *bufio.Reader
	Addr string // host:port
	// Greeting is the host's first line, without CRLF.
	Greeting string
}

// Greeter reads and checks a host's greeting from br; an error makes the
// Router try the next host.
type Greeter func(br *bufio.Reader) (string, error)

// Connect returns a connection to the first host of group that answers
// on port with a greeting greet accepts; with tc, over TLS from the first
// byte (the host's implicit-TLS port), tc's ServerName defaulting to the
// host's name in storehostlist. Hosts skipped for a recent failure are
// tried last, so a group whose every host failed recently is still tried.
// Its error wraps ErrNoHost with the last failure.
func (r *Router) Connect(ctx context.Context, group string, port int, tc *tls.Config, greet Greeter) (*Backend, error) {
	hosts := r.o.Groups.Hosts(group)
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%w: group %q has no hosts", ErrNoHost, group)
	}
	now := r.o.Now()
	var live, skipped []string
	r.mu.Lock()
	for _, h := range hosts {
		addr := net.JoinHostPort(h, strconv.Itoa(port))
		if until, ok := r.mu.down[addr]; ok && now.Before(until) {
			skipped = append(skipped, addr)
		} else {
			live = append(live, addr)
		}
	}
	r.mu.Unlock()
	for _, addr := range skipped {
		r.o.Observer.Skipped(addr)
	}
	var last error
	for _, addr := range append(live, skipped...) {
		b, err := r.connect(ctx, addr, tc, greet)
		if err == nil {
			r.up(addr)
			return b, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		last = err
		r.failed(addr, err)
	}
	return nil, fmt.Errorf("%w: group %s: %v", ErrNoHost, group, last)
}

func (r *Router) connect(ctx context.Context, addr string, tc *tls.Config, greet Greeter) (b *Backend, err error) {
	start := time.Now()
	defer func() { r.o.Observer.Connect(addr, time.Since(start), err) }()
	cctx, cancel := context.WithTimeout(ctx, r.o.ConnectTimeout)
	defer cancel()
	nc, err := r.dial.DialContext(cctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(r.o.ConnectTimeout))
	if tc != nil {
		cfg := tc.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		sc := tls.Client(nc, cfg)
		if err := sc.HandshakeContext(cctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("TLS with %s (proxy.host_tls; is the port the host's implicit-TLS listener?): %w", addr, err)
		}
		nc = sc
	}
	br := bufio.NewReaderSize(nc, 4<<10)
	g, err := greet(br)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("greeting of %s: %w", addr, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return &Backend{Conn: nc, R: br, Addr: addr, Greeting: g}, nil
}

// failed marks addr as skipped for HostRetry; the first failure in a row
// is a warning, the following ones are debug lines.
func (r *Router) failed(addr string, err error) {
	r.mu.Lock()
	_, was := r.mu.down[addr]
	r.mu.down[addr] = r.o.Now().Add(r.o.HostRetry)
	r.mu.Unlock()
	if was {
		r.o.Logger.Debug("proxy: access host still down", "host", addr, "err", err)
		return
	}
	r.o.Logger.Warn("proxy: access host down; skipped for proxy.host_retry, the next host of its group serves", "host", addr,
		"retry", r.o.HostRetry, "err", err)
}

func (r *Router) up(addr string) {
	r.mu.Lock()
	_, was := r.mu.down[addr]
	delete(r.mu.down, addr)
	r.mu.Unlock()
	if was {
		r.o.Logger.Info("proxy: access host answers again", "host", addr)
	}
}
