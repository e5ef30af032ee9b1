package cassandra

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// hostDialer is gocql's default host dialer (TCP with the connect
// timeout, then TLS when tls is set, its server name the node's address)
// whose connections tell errs of their read and write errors. gocql may
// report a node that closes a connection during the CQL handshake only as
// "no response to connection startup within timeout" (its startup waits
// on the error and on a context that the close cancels, and either may
// win); the read error says why: a TLS alert (a client certificate
// refused) or a reset (the node wants TLS). It also notes the nodes that
// ask for a client certificate they do not get (tlsFor).
type hostDialer struct {
	net  net.Dialer
	tls  *tls.Config // nil: plain
	errs *connectErrors
}

func (d *hostDialer) DialHost(ctx context.Context, host *gocql.HostInfo) (*gocql.DialedHost, error) {
	ip := host.ConnectAddress()
	if ip == nil || ip.IsUnspecified() || host.Port() == 0 {
		return nil, fmt.Errorf("cassandra: node %v has no address to connect to", host)
	}
	addr := host.ConnectAddressAndPort()
	conn, err := d.net.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	dh, err := gocql.WrapTLS(ctx, conn, host.HostnameAndPort(), d.tlsFor(addr))
	if err != nil {
		return nil, err
	}
	dh.Conn = &watchedConn{Conn: dh.Conn, addr: addr, errs: d.errs}
	return dh, nil
}

// tlsFor returns the TLS configuration for a connection to addr: d.tls,
// but it tells errs when the node asks for a client certificate and gets
// none, because none is configured or none is signed by a CA the node
// names (crypto/tls then sends none, as here). Under TLS 1.3 the node's
// refusal comes after the handshake, at the first read, and gocql may
// lose it (see hostDialer); the request it made is known at once.
func (d *hostDialer) tlsFor(addr string) *tls.Config {
	if d.tls == nil {
		return nil
	}
	cfg := d.tls.Clone()
	certs := d.tls.Certificates
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		d.errs.certWithheld(addr, len(certs) > 0)
		return new(tls.Certificate), nil
	}
	return cfg
}

// watchedConn tells errs of its read and write errors.
type watchedConn struct {
	net.Conn
	addr string
	errs *connectErrors
}

func (c *watchedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil {
		c.errs.ioError(c.addr, err)
	}
	return n, err
}

func (c *watchedConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if err != nil {
		c.errs.ioError(c.addr, err)
	}
	return n, err
}
