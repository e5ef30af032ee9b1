package cassandra

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// TestExplainConnect: which errors of a connection's setup say what to
// change, and which (an outage) are left to the driver's wrapping. The
// words come from the real node in security_test.go; this is the table
// without a server.
func TestExplainConnect(t *testing.T) {
	o, err := Options{Strategy: Simple, Username: "u", Password: "p",
		TLS: TLSOptions{Enable: true, CAFile: "/ca.pem"}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	own := o.Msg
	own.Username, own.Password = "m", "q"
	plain := o
	plain.TLS.Enable = false
	anon := o
	anon.Username = ""
	alert := &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}
	for _, tc := range []struct {
		o    *Options
		k    *KeyspaceOptions
		err  error
		kind ConnectKind
		msg  string
	}{
		{&o, &o.Meta, &gocql.RequestErrCredentials{}, AuthFailed, `authentication failed for user "u": check store.casusername and store.caspassword`},
		{&o, &own, fmt.Errorf("wrapped: %w", &gocql.RequestErrCredentials{}), AuthFailed, `authentication failed for user "m": check store.casmsgusername and store.casmsgpassword`},
		{&anon, &anon.Meta, errors.New(`authentication required (using "x")`), AuthRequired, "the node requires a user name and password: set store.casusername and store.caspassword"},
		{&o, &o.Meta, errors.New(`authentication required (using "x")`), 0, ""}, // with a user, this is not it
		{&o, &o.Meta, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, CertUntrusted, "TLS: the node's certificate is not signed by a CA in store.castls.cafile (/ca.pem): set store.castls.cafile to the CA that signed the nodes' certificates"},
		{&o, &o.Meta, x509.HostnameError{Host: "10.0.0.1", Certificate: &x509.Certificate{}}, CertWrongHost, `TLS: the node's certificate does not name 10.0.0.1, the address connected to: the driver checks the node's address, not a host name, so the certificate needs IP:10.0.0.1 in its subjectAltName; or set store.castls.verify = "ca" to check the CA only`},
		{&o, &o.Meta, x509.CertificateInvalidError{Reason: x509.Expired, Cert: &x509.Certificate{}}, CertInvalid, "TLS: the node's certificate is not valid: renew it, or check the clocks"},
		{&o, &o.Meta, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, NotTLS, "TLS: the node does not speak TLS on this port: set store.castls.enable = false, or turn on client_encryption_options on the node"},
		{&o, &o.Meta, alert, HandshakeRefused, "TLS: the node refused the handshake: if it requires client certificates (require_client_auth), set store.castls.certfile and store.castls.keyfile"},
		{&plain, &plain.Meta, io.EOF, TLSRequired, "the node closed the connection at the start of the CQL handshake: if it requires TLS (client_encryption_options), set store.castls.enable = true"},
		{&o, &o.Meta, io.EOF, 0, ""}, // with TLS on, EOF is an outage
		{&o, &o.Meta, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 0, ""},
		{&o, &o.Meta, gocql.ErrNoConnections, 0, ""},
	} {
		e := explainConnect("10.0.0.1:9042", tc.err, tc.o, tc.k)
		switch {
		case tc.kind == 0 && e != nil:
			t.Errorf("%v: explained as %v", tc.err, e)
		case tc.kind == 0:
		case e == nil:
			t.Errorf("%v: not explained, want kind %d", tc.err, tc.kind)
		case e.Kind != tc.kind || e.Msg != tc.msg || e.Addr != "10.0.0.1:9042" || !errors.Is(e, tc.err):
			t.Errorf("%v: kind %d %q at %s, want kind %d %q", tc.err, e.Kind, e.Msg, e.Addr, tc.kind, tc.msg)
		}
	}
}

// TestKeyspaceCredentials: a keyspace's own user replaces the shared one
// with its own password, even an empty one; its password alone is an
// error.
func TestKeyspaceCredentials(t *testing.T) {
	o := Options{Strategy: Simple, Username: "shared", Password: "s"}
	o.Cache = KeyspaceOptions{Username: "cache", Password: ""}
	d, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		k                    *KeyspaceOptions
		user, password, keys string
	}{
		{&d.Meta, "shared", "s", "store.casusername and store.caspassword"},
		{&d.Cache, "cache", "", "store.cascacheusername and store.cascachepassword"},
	} {
		if u, p, k := d.credentials(c.k); u != c.user || p != c.password || k != c.keys {
			t.Errorf("%s: %q %q %q, want %q %q %q", c.k.Name, u, p, k, c.user, c.password, c.keys)
		}
	}
	o.Msg.Password = "alone"
	if _, err := o.withDefaults(); err == nil || err.Error() != "cassandra: message keyspace: a password without a user name" {
		t.Errorf("a keyspace's password without its user: %v", err)
	}
}
