package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/netserve"
)

// front is the accept side every proxy protocol shares (package
// netserve): limits, drain and close.
type front struct {
	ns     netserve.Server
	tls    *tls.Config
	nextID atomic.Uint64
}

// client is what every proxy session knows of its client.
type client struct {
	nc       net.Conn // TLS over drain once it is secure
	drain    *netserve.Conn
	id       string // "p" and a number: the proxy's session, told to the access host
	ip, port string
	secure   bool
	log      *slog.Logger
	br       *bufio.Reader
	bw       *bufio.Writer
}

// newClient starts a session's state for nc.
func (f *front) newClient(nc net.Conn, secure bool, d *netserve.Conn, proto string, log *slog.Logger) client {
	id := "p" + strconv.FormatUint(f.nextID.Add(1), 36)
	ip, port, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		ip = nc.RemoteAddr().String()
	}
	c := client{nc: nc, drain: d, id: id, ip: ip, port: port, secure: secure,
		log: log.With("proto", proto, "session", id, "remote", nc.RemoteAddr().String())}
	c.br = bufio.NewReaderSize(nc, 4<<10)
	c.bw = bufio.NewWriterSize(nc, 4<<10)
	return c
}

// SetMaxConnections replaces the listener's connection bound (0: none),
// for a reload: the next connection is counted against it; the sessions
// open stay (netserve.Server.SetMaxConns).
func (f *front) SetMaxConnections(n int) { f.ns.SetMaxConns(n) }

// Serve accepts plain connections on ln (STARTTLS or STLS when TLS is
// configured) until Shutdown or Close; then it returns net.ErrClosed.
func (f *front) Serve(ln net.Listener) error { return f.ns.Serve(ln, nil) }

// ServeTLS accepts implicit-TLS connections (RFC 8314) on ln.
func (f *front) ServeTLS(ln net.Listener) error {
	if f.tls == nil {
		return errors.New("proxy: ServeTLS needs a TLS configuration (tls.cert_file)")
	}
	return f.ns.Serve(ln, f.tls)
}

// Shutdown stops accepting; a session waiting for its next command before
// login (or outside an LMTP transaction) is told goodbye at once, a
// carried session runs until ctx ends and is then closed (the client
// reconnects, and is routed again).
func (f *front) Shutdown(ctx context.Context) error { return f.ns.Shutdown(ctx) }

// Close stops accepting and closes every session.
func (f *front) Close() error { f.ns.Close(); return nil }

// Connections returns the connection counts, for the metrics.
func (f *front) Connections() netserve.Stats { return f.ns.Stats() }

// handshake completes an implicit-TLS connection's handshake within 30 s;
// false: it failed (logged) and the session ends.
func handshake(nc net.Conn, log *slog.Logger) bool {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return true
	}
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		log.Info("proxy: TLS handshake failed", "err", err)
		return false
	}
	_ = tc.SetDeadline(time.Time{})
	return true
}

// upgrade runs a STARTTLS/STLS handshake over nc (RFC 9051 6.2.1, RFC
// 2595 4), after the client was told to begin; nil: it failed (logged).
func upgrade(nc net.Conn, cfg *tls.Config, log *slog.Logger) *tls.Conn {
	tc := tls.Server(nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		log.Info("proxy: STARTTLS handshake failed", "err", err)
		return nil
	}
	_ = tc.SetDeadline(time.Time{})
	return tc
}
