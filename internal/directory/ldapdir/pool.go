package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"

	"github.com/go-ldap/ldap/v3"
)

// pool holds at most n connections of one kind: searches (bound as the
// search account) or binds (bound as whichever user was verified last).
// A request waits for a free slot until its context ends or Timeout
// passed, so the number of connections to the servers and of requests in
// flight never exceeds n, and a stuck server does not pile up waiters.
type pool struct {
	d     *Dir
	bind  bool          // bind as the search account after dialing
	slots chan struct{} // one token per connection that may exist
	idle  chan *ldap.Conn
}

func newPool(d *Dir, n int, bind bool) *pool {
	return &pool{d: d, bind: bind, slots: make(chan struct{}, n), idle: make(chan *ldap.Conn, n)}
}

// ErrBindRefused reports a server that answered but refused the search
// account's bind: a configuration error (directory.ldap.bind_dn,
// bind_password), not an outage.
var ErrBindRefused = errors.New("the LDAP server refused the search account's bind")

// errPoolWait reports a request that found every connection busy until
// its context ended.
var errPoolWait = errors.New("every LDAP connection stayed busy (directory.ldap.pool_size)")

// do runs fn on a connection. A connection that fails with a network
// error is closed; when it was an idle one (the server may have closed it
// meanwhile), fn runs once more on a new connection.
func (p *pool) do(ctx context.Context, fn func(*ldap.Conn) error) error {
	wctx, cancel := context.WithTimeout(ctx, p.d.opts.Timeout)
	defer cancel()
	select {
	case p.slots <- struct{}{}:
	case <-wctx.Done():
		return fmt.Errorf("%w: %w", errPoolWait, wctx.Err())
	}
	defer func() { <-p.slots }()
	for attempt := 0; ; attempt++ {
		c, reused := p.take()
		if c == nil {
			var err error
			if c, err = p.dial(); err != nil {
				return err
			}
		}
		err := fn(c)
		if !isNetwork(err) && !c.IsClosing() {
			p.idle <- c // never blocks: at most n connections exist
			return err
		}
		c.Close()
		if !reused || attempt > 0 {
			return err
		}
	}
}

func (p *pool) take() (*ldap.Conn, bool) {
	for {
		select {
		case c := <-p.idle:
			if c.IsClosing() {
				c.Close()
				continue
			}
			return c, true
		default:
			return nil, false
		}
	}
}

// dial connects to the first server of directory.ldap.urls that answers,
// with TLS (ldaps://) or StartTLS as configured, and binds as the search
// account for a search connection.
func (p *pool) dial() (*ldap.Conn, error) {
	o := p.d.opts
	var errs []error
	for _, raw := range o.URLs {
		u, err := url.Parse(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tc := p.d.tlsFor(u.Hostname())
		c, err := ldap.DialURL(raw, ldap.DialWithDialer(&net.Dialer{Timeout: o.ConnectTimeout}), ldap.DialWithTLSConfig(tc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", raw, err))
			continue
		}
		c.SetTimeout(o.Timeout)
		if o.StartTLS && u.Scheme == "ldap" {
			if err := c.StartTLS(tc); err != nil {
				c.Close()
				errs = append(errs, fmt.Errorf("%s: StartTLS: %w", raw, err))
				continue
			}
		}
		if p.bind && o.BindDN != "" {
			if err := c.Bind(o.BindDN, o.BindPassword); err != nil {
				c.Close()
				if !isNetwork(err) {
					err = fmt.Errorf("%w: %w", ErrBindRefused, err)
				}
				errs = append(errs, fmt.Errorf("%s: bind as directory.ldap.bind_dn %q: %w", raw, o.BindDN, err))
				continue
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("no LDAP server of directory.ldap.urls answered: %w", errors.Join(errs...))
}

// tlsFor returns the TLS configuration for a server named host.
func (d *Dir) tlsFor(host string) *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.opts.TLS != nil {
		tc = d.opts.TLS.Clone()
	}
	if tc.ServerName == "" {
		tc.ServerName = host
	}
	return tc
}

// close closes the idle connections; connections in use are closed when
// they come back after it (the pool is not used after Close).
func (p *pool) close() {
	for {
		select {
		case c := <-p.idle:
			c.Close()
		default:
			return
		}
	}
}

// isNetwork reports an error of the connection rather than an LDAP result.
func isNetwork(err error) bool {
	if err == nil {
		return false
	}
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true
	}
	return le.ResultCode == ldap.ErrorNetwork || le.ResultCode == ldap.LDAPResultTimeout
}
