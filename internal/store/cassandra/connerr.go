package cassandra

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"

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

// connectErrors is a gocql.ConnectObserver that keeps the first error of
// each node while a session opens: the driver's own error from
// CreateSession is a string made of the last node's, which loses its
// type and does not say which node it was.
type connectErrors struct {
	mu    sync.Mutex
	addrs []string
	errs  map[string]error
}

func (c *connectErrors) ObserveConnect(o gocql.ObservedConnect) {
	if o.Err == nil || o.Host == nil {
		return
	}
	addr := o.Host.ConnectAddressAndPort()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errs == nil {
		c.errs = map[string]error{}
	}
	if _, seen := c.errs[addr]; !seen && len(c.addrs) < 64 {
		c.addrs = append(c.addrs, addr)
		c.errs[addr] = o.Err
	}
}

// explain returns the first node's error that ConnectError explains, or
// nil when none does (the nodes were down or slow: not a configuration
// mistake).
func (c *connectErrors) explain(o *Options, k *KeyspaceOptions) *ConnectError {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.addrs {
		if e := explainConnect(a, c.errs[a], o, k); e != nil {
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
	e := &ConnectError{Addr: addr, Err: err}
	var (
		creds   *gocql.RequestErrCredentials
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		op      *net.OpError
	)
	switch {
	case errors.As(err, &creds):
		e.Kind, e.Msg = AuthFailed, fmt.Sprintf("authentication failed for user %q: check %s", user, keys)
	case user == "" && strings.HasPrefix(err.Error(), "authentication required"):
		// gocql's words when the node asks for credentials and the
		// session has no authenticator.
		e.Kind, e.Msg = AuthRequired, "the node requires a user name and password: set "+keys
	case !o.TLS.Enable:
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			e.Kind, e.Msg = TLSRequired, "the node closed the connection at the start of the CQL handshake: "+
				"if it requires TLS (client_encryption_options), set store.castls.enable = true"
		}
	case errors.As(err, &unknown):
		where := "this system's roots"
		if o.TLS.CAFile != "" {
			where = "store.castls.cafile (" + o.TLS.CAFile + ")"
		}
		e.Kind, e.Msg = CertUntrusted, "TLS: the node's certificate is not signed by a CA in "+where+
			": set store.castls.cafile to the CA that signed the nodes' certificates"
	case errors.As(err, &host):
		// gocql dials and verifies the address, even when the connect
		// point was a host name: the nodes report addresses.
		e.Kind, e.Msg = CertWrongHost, fmt.Sprintf("TLS: the node's certificate does not name %s, the address connected to: "+
			"the driver checks the node's address, not a host name, so the certificate needs IP:%s in its subjectAltName; "+
			`or set store.castls.verify = "ca" to check the CA only`, host.Host, host.Host)
	case errors.As(err, &invalid):
		e.Kind, e.Msg = CertInvalid, "TLS: the node's certificate is not valid: renew it, or check the clocks"
	case errors.As(err, &record):
		e.Kind, e.Msg = NotTLS, "TLS: the node does not speak TLS on this port: set store.castls.enable = false, "+
			"or turn on client_encryption_options on the node"
	case errors.As(err, &op) && op.Op == "remote error":
		e.Kind = HandshakeRefused
		if o.TLS.CertFile == "" {
			e.Msg = "TLS: the node refused the handshake: if it requires client certificates (require_client_auth), " +
				"set store.castls.certfile and store.castls.keyfile"
		} else {
			e.Msg = "TLS: the node refused the handshake: it does not accept the client certificate of store.castls.certfile (" +
				o.TLS.CertFile + "): have it signed by a CA in the node's client_encryption_options truststore"
		}
	}
	if e.Kind == 0 {
		return nil
	}
	return e
}
