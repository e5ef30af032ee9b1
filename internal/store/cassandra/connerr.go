package cassandra

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// ConnectError is a node refusing a connection for its credentials or
// its TLS: a mistake in the configuration (here or on the node), which no
// retry mends. Open and Nodes return it, in preference to the driver's
// own summary, which loses both the cause and the node.
type ConnectError struct {
	Addr string      // the node, host:port
	Kind ConnectKind // what failed
	Msg  string      // what failed and what to do, naming the config keys
	Err  error       // the driver's or the TLS stack's error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cassandra %s: %s (%v)", e.Addr, e.Msg, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// ConnectKind says what part of a connection's setup failed.
type ConnectKind int

// Kinds of ConnectError.
const (
	AuthFailed       ConnectKind = iota + 1 // the node refused the user name or password
	AuthRequired                            // the node asks for a password and none is set
	CertUntrusted                           // the node's certificate is not signed by a trusted CA
	CertWrongHost                           // the node's certificate does not name the address connected to
	CertInvalid                             // the node's certificate is refused otherwise: expired, wrong usage...
	HandshakeRefused                        // the node refused the TLS handshake: a client certificate missing or untrusted
	NotTLS                                  // TLS is on, but the node does not speak it
	TLSRequired                             // TLS is off, and the node closed the connection: it wants TLS
)

// connectErrors is a gocql.ConnectObserver for the session of keyspace
// k. While the session opens it keeps the first error of each node: the
// driver's own error from CreateSession is a string made of the last
// node's, which loses its type and does not say which node it was. Once
// open, a node that refuses a new connection for its credentials or TLS
// (a password changed on the cluster, a certificate expired) is logged at
// Warn with what to change, once until a connection to it succeeds: the
// driver logs the raw error, mostly at Info (Debug through slogAdapter),
// and queries fail as unavailable.
type connectErrors struct {
	o   *Options
	k   *KeyspaceOptions
	log *slog.Logger

	mu     sync.Mutex
	opened bool
	addrs  []string               // nodes that failed while opening, in order
	errs   map[string]error       // their first errors
	io     map[string]ioFailure   // each node's last read or write error (hostDialer)
	asked  map[string]asked       // each node's last request for a client certificate it did not get
	logged map[string]ConnectKind // once open: refusals logged, by node
}

func newConnectErrors(o *Options, k *KeyspaceOptions, log *slog.Logger) *connectErrors {
	return &connectErrors{o: o, k: k, log: log,
		errs: map[string]error{}, io: map[string]ioFailure{}, asked: map[string]asked{}, logged: map[string]ConnectKind{}}
}

type ioFailure struct {
	err error
	at  time.Time
}

type asked struct {
	configured bool // a client certificate is configured (not signed by a CA the node names)
	at         time.Time
}

// ioError records a read or write error of a connection to addr.
func (c *connectErrors) ioError(addr string, err error) {
	c.mu.Lock()
	c.io[addr] = ioFailure{err, time.Now()}
	c.mu.Unlock()
}

// certWithheld records that the node at addr asked for a client
// certificate and got none; configured says whether one was set.
func (c *connectErrors) certWithheld(addr string, configured bool) {
	c.mu.Lock()
	c.asked[addr] = asked{configured, time.Now()}
	c.mu.Unlock()
}

// cause returns the error of the connection attempt oc, unless what
// happened on the node during that attempt says more (see hostDialer): a
// client certificate it asked for and did not get, or a read or write
// error that explains the failure when oc.Err does not.
func (c *connectErrors) cause(addr string, oc gocql.ObservedConnect) error {
	during := func(at time.Time) bool { return !at.Before(oc.Start) && !at.After(oc.End) }
	if a, ok := c.asked[addr]; ok && during(a.at) {
		return &certWithheldError{configured: a.configured, err: oc.Err}
	}
	if explainConnect(addr, oc.Err, c.o, c.k) == nil {
		if f, ok := c.io[addr]; ok && during(f.at) && explainConnect(addr, f.err, c.o, c.k) != nil {
			return f.err
		}
	}
	return oc.Err
}

// certWithheldError is a connection that failed after its node asked for
// a client certificate and got none.
type certWithheldError struct {
	configured bool  // a certificate is configured, signed by a CA the node does not name
	err        error // what the driver saw
}

func (e *certWithheldError) Error() string {
	return fmt.Sprintf("the node asked for a client certificate and was sent none: %v", e.err)
}

func (e *certWithheldError) Unwrap() error { return e.err }

func (c *connectErrors) ObserveConnect(oc gocql.ObservedConnect) {
	if oc.Host == nil {
		return
	}
	addr := oc.Host.ConnectAddressAndPort()
	c.mu.Lock()
	defer c.mu.Unlock()
	if oc.Err == nil {
		delete(c.io, addr)
		delete(c.asked, addr)
		delete(c.logged, addr)
		return
	}
	err := c.cause(addr, oc)
	switch {
	case !c.opened:
		if _, seen := c.errs[addr]; !seen && len(c.addrs) < 64 {
			c.addrs = append(c.addrs, addr)
			c.errs[addr] = err
		}
	default:
		e := explainConnect(addr, err, c.o, c.k)
		if e == nil || c.logged[addr] == e.Kind {
			return
		}
		c.logged[addr] = e.Kind
		c.log.Warn("cassandra: a node refused a new connection", "node", addr, "keyspace", c.k.Name, "err", e.Error())
	}
}

// open records that the session opened: failures are logged from now on.
func (c *connectErrors) open() {
	c.mu.Lock()
	c.opened = true
	c.mu.Unlock()
}

// explain returns the first node's error that ConnectError explains, or
// nil when none does (the nodes were down or slow: not a configuration
// mistake).
func (c *connectErrors) explain() *ConnectError {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.addrs {
		if e := explainConnect(a, c.errs[a], c.o, c.k); e != nil {
			return e
		}
	}
	return nil
}

// explainConnect says what err, from setting up a connection to the node
// at addr for keyspace k, means and what to do, or returns nil when it is
// not about credentials or TLS.
func explainConnect(addr string, err error, o *Options, k *KeyspaceOptions) *ConnectError {
	user, _, keys := o.credentials(k)
	t, key := o.keyspaceTLS(k)
	e := &ConnectError{Addr: addr, Err: err}
	var (
		creds   *gocql.RequestErrCredentials
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		op      *net.OpError
		asked   *certWithheldError
	)
	switch {
	case errors.As(err, &creds):
		e.Kind, e.Msg = AuthFailed, fmt.Sprintf("authentication failed for user %q: check %s", user, keys)
	case user == "" && strings.HasPrefix(err.Error(), "authentication required"):
		// gocql's words when the node asks for credentials and the
		// session has no authenticator.
		e.Kind, e.Msg = AuthRequired, "the node requires a user name and password: set "+keys
	case !t.Enable:
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			on := "store.castls.enable = true"
			if k.key != "" {
				on += " (or store.cas" + k.key + "tls.enable for this keyspace's cluster only)"
			}
			e.Kind, e.Msg = TLSRequired, "the node closed the connection at the start of the CQL handshake: "+
				"if it requires TLS (client_encryption_options), set "+on
		}
	case errors.As(err, &unknown):
		where := "this system's roots"
		if t.CAFile != "" {
			where = key("cafile") + " (" + t.CAFile + ")"
		}
		e.Kind, e.Msg = CertUntrusted, "TLS: the node's certificate is not signed by a CA in "+where+
			": set "+key("cafile")+" to the CA that signed the nodes' certificates"
	case errors.As(err, &host):
		// gocql dials and verifies the address, even when the connect
		// point was a host name: the nodes report addresses.
		e.Kind, e.Msg = CertWrongHost, fmt.Sprintf("TLS: the node's certificate does not name %s, the address connected to: "+
			"the driver checks the node's address, not a host name, so the certificate needs IP:%s in its subjectAltName; "+
			`or set %s = "ca" to check the CA only`, host.Host, host.Host, key("verify"))
	case errors.As(err, &invalid):
		e.Kind, e.Msg = CertInvalid, "TLS: the node's certificate is not valid: renew it, or check the clocks"
	case errors.As(err, &record):
		e.Kind, e.Msg = NotTLS, "TLS: the node does not speak TLS on this port: set "+key("enable")+" = false, "+
			"or turn on client_encryption_options on the node"
	case errors.As(err, &asked) && !asked.configured:
		e.Kind, e.Msg = HandshakeRefused, "TLS: the node requires a client certificate (require_client_auth): "+
			"set "+key("certfile")+" and "+key("keyfile")
	case errors.As(err, &asked):
		e.Kind, e.Msg = HandshakeRefused, "TLS: the node requires a client certificate signed by a CA it names, and that of "+
			key("certfile")+" ("+t.CertFile+") is not: have it signed by a CA in the node's client_encryption_options truststore"
	case errors.As(err, &op) && op.Op == "remote error":
		e.Kind = HandshakeRefused
		if t.CertFile == "" {
			e.Msg = "TLS: the node refused the handshake: if it requires client certificates (require_client_auth), " +
				"set " + key("certfile") + " and " + key("keyfile")
		} else {
			e.Msg = "TLS: the node refused the handshake: it does not accept the client certificate of " + key("certfile") + " (" +
				t.CertFile + "): have it signed by a CA in the node's client_encryption_options truststore"
		}
	}
	if e.Kind == 0 {
		return nil
	}
	return e
}
