package cassandra

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/testkit"
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
	// The messages' cluster with TLS of its own: its CA, its client
	// certificate, CA-only checks; the cache's turns TLS on where the
	// shared setting is off.
	ownTLS := o.Msg
	ownTLS.TLS = TLSOptions{CAFile: "/msg-ca.pem", CertFile: "/c.pem", KeyFile: "/c.key", Verify: "ca"}
	cacheTLS := plain.Cache
	cacheTLS.TLS.Enable = true
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
		{&plain, &plain.Meta, io.EOF, TLSRequired, "the node closed the connection at the start of the CQL handshake: if it requires TLS (client_encryption_options), set store.castls.enable = true (or store.casmetatls.enable for this keyspace's cluster only)"},
		{&o, &ownTLS, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, CertUntrusted, "TLS: the node's certificate is not signed by a CA in store.casmsgtls.cafile (/msg-ca.pem): set store.casmsgtls.cafile to the CA that signed the nodes' certificates"},
		{&o, &ownTLS, x509.HostnameError{Host: "10.0.0.1", Certificate: &x509.Certificate{}}, CertWrongHost, `TLS: the node's certificate does not name 10.0.0.1, the address connected to: the driver checks the node's address, not a host name, so the certificate needs IP:10.0.0.1 in its subjectAltName; or set store.casmsgtls.verify = "ca" to check the CA only`},
		{&o, &ownTLS, alert, HandshakeRefused, "TLS: the node refused the handshake: it does not accept the client certificate of store.casmsgtls.certfile (/c.pem): have it signed by a CA in the node's client_encryption_options truststore"},
		{&plain, &cacheTLS, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, NotTLS, "TLS: the node does not speak TLS on this port: set store.cascachetls.enable = false, or turn on client_encryption_options on the node"},
		{&plain, &cacheTLS, io.EOF, 0, ""}, // TLS on for this keyspace: EOF is an outage
		{&o, &o.Meta, io.EOF, 0, ""},       // with TLS on, EOF is an outage
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

// TestConnectRefusalsLogged: while the session opens, refusals are kept
// for Open's error, not logged; once open, a node's refusal is logged at
// Warn once, again after a connection to it succeeded, and outages are
// left to the driver.
func TestConnectRefusalsLogged(t *testing.T) {
	o, err := Options{Strategy: Simple, Username: "u", Password: "p"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	var rec testkit.LogRecorder
	c := newConnectErrors(&o, &o.Meta, rec.Logger())
	host, err := gocql.NewHostInfoFromAddrPort(net.ParseIP("10.0.0.1"), 9042)
	if err != nil {
		t.Fatal(err)
	}
	refused := gocql.ObservedConnect{Host: host, Err: &gocql.RequestErrCredentials{}}
	const msg = "cassandra: a node refused a new connection"
	c.ObserveConnect(refused)
	if e := c.explain(); e == nil || e.Kind != AuthFailed || len(rec.Records(msg)) != 0 {
		t.Fatalf("while opening: explain %v, %d logged", e, len(rec.Records(msg)))
	}
	c.open()
	for _, oc := range []gocql.ObservedConnect{
		refused, refused, // logged once
		{Host: host, Err: io.EOF}, // TLS is off: "wants TLS", another kind
		{Host: host, Err: gocql.ErrNoConnections},
		{Host: host}, // a success
		refused,      // logged again
	} {
		c.ObserveConnect(oc)
	}
	got := rec.Records(msg)
	want := `cassandra 10.0.0.1:9042: authentication failed for user "u": check store.casusername and store.caspassword ()`
	if len(got) != 3 || got[0].Attrs["err"] != want || got[0].Attrs["node"] != "10.0.0.1:9042" ||
		got[0].Attrs["keyspace"] != "ms_mbox" || got[0].Level != slog.LevelWarn || got[2].Attrs["err"] != want {
		t.Fatalf("logged %+v, want 3 records, the first and last %q", got, want)
	}
}

// TestConnectCauseDuringAttempt: when gocql reports only that the
// startup timed out, what happened on the node during that attempt
// explains it: a client certificate it asked for and did not get, or,
// with TLS off, a reset; the same from before the attempt does not.
func TestConnectCauseDuringAttempt(t *testing.T) {
	host, err := gocql.NewHostInfoFromAddrPort(net.ParseIP("10.0.0.1"), 9042)
	if err != nil {
		t.Fatal(err)
	}
	const addr = "10.0.0.1:9042"
	generic := errors.New("gocql: no response to connection startup within timeout")
	for _, tc := range []struct {
		name  string
		tls   bool
		note  func(c *connectErrors)
		early func(c *connectErrors, at time.Time) // the same, from before the attempt
		kind  ConnectKind
		msg   string
	}{
		{"certificate withheld", true, func(c *connectErrors) { c.certWithheld(addr, false) },
			func(c *connectErrors, at time.Time) { c.asked[addr] = asked{false, at} }, HandshakeRefused,
			"TLS: the node requires a client certificate (require_client_auth): set store.castls.certfile and store.castls.keyfile"},
		{"reset without TLS", false, func(c *connectErrors) { c.ioError(addr, syscall.ECONNRESET) },
			func(c *connectErrors, at time.Time) { c.io[addr] = ioFailure{syscall.ECONNRESET, at} }, TLSRequired,
			"the node closed the connection at the start of the CQL handshake: if it requires TLS (client_encryption_options), set store.castls.enable = true (or store.casmetatls.enable for this keyspace's cluster only)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Options{Strategy: Simple, TLS: TLSOptions{Enable: tc.tls}}.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			c := newConnectErrors(&o, &o.Meta, slog.New(slog.DiscardHandler))
			start := time.Now()
			tc.early(c, start.Add(-time.Millisecond))
			c.ObserveConnect(gocql.ObservedConnect{Host: host, Start: start, End: time.Now(), Err: generic})
			if e := c.explain(); e != nil {
				t.Fatalf("what happened before the attempt explained it: %v", e)
			}

			c = newConnectErrors(&o, &o.Meta, slog.New(slog.DiscardHandler))
			start = time.Now()
			tc.note(c)
			c.ObserveConnect(gocql.ObservedConnect{Host: host, Start: start, End: time.Now(), Err: generic})
			if e := c.explain(); e == nil || e.Kind != tc.kind || e.Msg != tc.msg || !errors.Is(e, generic) && tc.tls {
				t.Fatalf("explain: %v, want kind %d %q", e, tc.kind, tc.msg)
			}
		})
	}
}
