package cassandra

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/cassandra/securetest"
)

// secureOptions open every keyspace on addr as user, over TLS with the
// test CA at verify "full".
func secureOptions(env securetest.Env, addr, user, password string) Options {
	o := DefaultOptions()
	ks := func(name string) KeyspaceOptions {
		return KeyspaceOptions{Name: name, ConnectPoints: []string{addr}, RF: 1}
	}
	o.Meta, o.Msg, o.Cache = ks("quiresec_mbox"), ks("quiresec_msg"), ks("quiresec_cache")
	o.Strategy, o.DurableWrites = Simple, false
	o.Username, o.Password = user, password
	o.TLS = TLSOptions{Enable: true, CAFile: env.CAFile(), Verify: "full"}
	o.ConnectTimeout = 10 * time.Second
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return o
}

// withClientCert adds the client certificate node two asks for.
func withClientCert(env securetest.Env, o Options) Options {
	o.TLS.CertFile, o.TLS.KeyFile = env.ClientCert(), env.ClientKey()
	return o
}

func openSecure(t *testing.T, o Options) (*Backend, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := Open(ctx, o)
	if err == nil {
		t.Cleanup(func() { b.Close() })
	}
	return b, err
}

func mustOpen(t *testing.T, o Options) *Backend {
	t.Helper()
	b, err := openSecure(t, o)
	if err != nil {
		t.Fatalf("Open %s as %q, TLS verify %s: %v", o.Meta.ConnectPoints[0], o.Username, o.TLS.Verify, err)
	}
	return b
}

// roundTrip writes and reads back a row in each keyspace: a mailbox
// (metadata), a body (messages) and a converted text (cache).
func roundTrip(t *testing.T, b *Backend) {
	t.Helper()
	ctx := context.Background()
	mb := newMailbox(t, b)
	if got, err := b.Mailbox(ctx, mb.UserID, mb.Name); err != nil || got.ID != mb.ID {
		t.Fatalf("Mailbox: %+v, %v; want id %s", got, err, mb.ID)
	}
	body := []byte("Subject: over TLS\r\n\r\nwith a password\r\n")
	id := store.BlobID(randID() + randID())
	if err := b.PutBlob(ctx, id, int64(len(body)), bytes.NewReader(body)); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	bl, err := b.OpenBlob(ctx, id)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	defer bl.Close()
	got, err := io.ReadAll(io.NewSectionReader(bl, 0, bl.Size()))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("body read back: %q, %v; want %q", got, err, body)
	}
	hash := []byte(randID())
	if err := b.PutText(ctx, hash, "text/plain", "converted"); err != nil {
		t.Fatalf("PutText: %v", err)
	}
	if kind, text, ok, err := b.GetText(ctx, hash); !ok || err != nil || kind != "text/plain" || text != "converted" {
		t.Fatalf("GetText: %q %q %v %v", kind, text, ok, err)
	}
}

// wantConnectError checks that err is a *ConnectError of kind about addr
// whose whole text is want.
func wantConnectError(t *testing.T, err error, kind ConnectKind, addr, want string) {
	t.Helper()
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v (%T), want a *ConnectError", err, err)
	}
	if ce.Kind != kind || ce.Addr != addr {
		t.Errorf("kind %d at %s, want kind %d at %s", ce.Kind, ce.Addr, kind, addr)
	}
	if err.Error() != want {
		t.Errorf("error\n got: %s\nwant: %s", err, want)
	}
	t.Logf("%s", err)
}

// TestSecureVerifyModes: with the right password and the CA, each verify
// mode connects and serves every keyspace.
func TestSecureVerifyModes(t *testing.T) {
	env := securetest.Nodes(t)
	for _, verify := range []string{"full", "ca", "none"} {
		t.Run(verify, func(t *testing.T) {
			o := secureOptions(env, env.One, securetest.OneUser, securetest.OnePassword)
			o.TLS.Verify = verify
			roundTrip(t, mustOpen(t, o))
		})
	}
}

// TestSecureWrongPassword: a wrong password, or none, fails at Open with
// the node, the user and the keys to fix.
func TestSecureWrongPassword(t *testing.T) {
	env := securetest.Nodes(t)
	o := secureOptions(env, env.One, securetest.OneUser, "not-the-password")
	_, err := openSecure(t, o)
	wantConnectError(t, err, AuthFailed, env.One, "cassandra "+env.One+`: authentication failed for user "quire_one": `+
		"check store.casusername and store.caspassword (Provided username quire_one and/or password are incorrect)")

	o = secureOptions(env, env.One, "", "")
	_, err = openSecure(t, o)
	wantConnectError(t, err, AuthRequired, env.One, "cassandra "+env.One+": the node requires a user name and password: "+
		`set store.casusername and store.caspassword (authentication required (using "org.apache.cassandra.auth.PasswordAuthenticator"))`)
}

// TestSecureUntrustedCertificate: a node certificate signed by a CA that
// is not in store.castls.cafile fails at verify "full" and "ca", and is
// taken at "none".
func TestSecureUntrustedCertificate(t *testing.T) {
	env := securetest.Nodes(t)
	other, _, _ := writeCert(t, t.TempDir(), "other-ca", nil)
	for _, verify := range []string{"full", "ca"} {
		t.Run(verify, func(t *testing.T) {
			o := secureOptions(env, env.One, securetest.OneUser, securetest.OnePassword)
			o.TLS.CAFile, o.TLS.Verify = other, verify
			_, err := openSecure(t, o)
			var ce *ConnectError
			if errors.As(err, &ce) && !errors.As(err, new(x509.UnknownAuthorityError)) {
				t.Errorf("%v does not wrap the x509.UnknownAuthorityError", err)
			}
			tail := "x509: certificate signed by unknown authority"
			if verify == "full" {
				tail = "tls: failed to verify certificate: " + tail
			}
			wantConnectError(t, err, CertUntrusted, env.One, "cassandra "+env.One+": TLS: the node's certificate is not signed by a CA in "+
				"store.castls.cafile ("+other+"): set store.castls.cafile to the CA that signed the nodes' certificates ("+tail+")")
		})
	}
	t.Run("system roots", func(t *testing.T) {
		o := secureOptions(env, env.One, securetest.OneUser, securetest.OnePassword)
		o.TLS.CAFile = ""
		_, err := openSecure(t, o)
		wantConnectError(t, err, CertUntrusted, env.One, "cassandra "+env.One+": TLS: the node's certificate is not signed by a CA in "+
			"this system's roots: set store.castls.cafile to the CA that signed the nodes' certificates "+
			"(tls: failed to verify certificate: x509: certificate signed by unknown authority)")
	})
	t.Run("none", func(t *testing.T) {
		o := secureOptions(env, env.One, securetest.OneUser, securetest.OnePassword)
		o.TLS.CAFile, o.TLS.Verify = other, "none"
		roundTrip(t, mustOpen(t, o))
	})
}

// TestSecureHostMismatch: reached through an address its certificate does
// not name (a plain TCP relay on another loopback address), the node is
// refused at verify "full" and taken at "ca", which checks the CA only.
func TestSecureHostMismatch(t *testing.T) {
	env := securetest.Nodes(t)
	relay := tcpRelay(t, "127.0.21.100:0", env.One)
	host, _, _ := net.SplitHostPort(env.One)

	o := secureOptions(env, relay, securetest.OneUser, securetest.OnePassword)
	_, err := openSecure(t, o)
	wantConnectError(t, err, CertWrongHost, relay, "cassandra "+relay+": TLS: the node's certificate does not name 127.0.21.100, "+
		"the address connected to: the driver checks the node's address, not a host name, so the certificate needs "+
		`IP:127.0.21.100 in its subjectAltName; or set store.castls.verify = "ca" to check the CA only `+
		"(tls: failed to verify certificate: x509: certificate is valid for "+host+", not 127.0.21.100)")

	o.TLS.Verify = "ca"
	roundTrip(t, mustOpen(t, o))
}

// TestSecureTLSMismatch: TLS off against a node that requires it, and on
// against a node that does not speak it.
func TestSecureTLSMismatch(t *testing.T) {
	env := securetest.Nodes(t)
	o := secureOptions(env, env.One, securetest.OneUser, securetest.OnePassword)
	o.TLS.Enable = false
	_, err := openSecure(t, o)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("TLS off: %v (%T), want a *ConnectError", err, err)
	}
	wantConnectError(t, err, TLSRequired, env.One, "cassandra "+env.One+": the node closed the connection at the start of the CQL handshake: "+
		"if it requires TLS (client_encryption_options), set store.castls.enable = true (or store.casmetatls.enable for this keyspace's cluster only) ("+ce.Err.Error()+")")

	plain := testAddr(t) // the node of scripts/cassandra.sh speaks plain CQL
	o = secureOptions(env, plain, "", "")
	_, err = openSecure(t, o)
	wantConnectError(t, err, NotTLS, plain, "cassandra "+plain+": TLS: the node does not speak TLS on this port: "+
		"set store.castls.enable = false, or turn on client_encryption_options on the node "+
		"(tls: first record does not look like a TLS handshake)")
}

// TestSecureClientCertificate: node two asks for a client certificate
// signed by its CA: without one, or with one it does not trust, the
// handshake is refused.
func TestSecureClientCertificate(t *testing.T) {
	env := securetest.Nodes(t)
	roundTrip(t, mustOpen(t, withClientCert(env, secureOptions(env, env.Two, securetest.TwoUser, securetest.TwoPassword))))

	o := secureOptions(env, env.Two, securetest.TwoUser, securetest.TwoPassword)
	_, err := openSecure(t, o)
	wantWithheld(t, err, env.Two, "TLS: the node requires a client certificate (require_client_auth): "+
		"set store.castls.certfile and store.castls.keyfile")

	dir := t.TempDir()
	_, _, ca := writeCert(t, dir, "stranger-ca", nil)
	cert, key, _ := writeCert(t, dir, "stranger", ca)
	o.TLS.CertFile, o.TLS.KeyFile = cert, key
	_, err = openSecure(t, o)
	wantWithheld(t, err, env.Two, "TLS: the node requires a client certificate signed by a CA it names, and that of "+
		"store.castls.certfile ("+cert+") is not: have it signed by a CA in the node's client_encryption_options truststore")
}

// wantWithheld checks that err is the HandshakeRefused of a node that
// asked for a client certificate and got none. What the driver saw then
// varies (the node's alert, a reset, a startup timeout: see hostDialer),
// so the text after msg is only checked to start with the fact.
func wantWithheld(t *testing.T, err error, addr, msg string) {
	t.Helper()
	var ce *ConnectError
	var w *certWithheldError
	if !errors.As(err, &ce) || !errors.As(err, &w) {
		t.Fatalf("got %v (%T), want a *ConnectError of a withheld client certificate", err, err)
	}
	wantConnectError(t, err, HandshakeRefused, addr, "cassandra "+addr+": "+msg+" ("+ce.Err.Error()+")")
	if !strings.HasPrefix(ce.Err.Error(), "the node asked for a client certificate and was sent none: ") {
		t.Errorf("cause %q", ce.Err)
	}
}

// TestSecurePerKeyspaceCredentials: the metadata keyspace in one cluster,
// the bodies and the cache in another, each logged in to with its own
// user; the keyspaces are where they were placed; a keyspace's wrong
// password names that keyspace's keys.
func TestSecurePerKeyspaceCredentials(t *testing.T) {
	env := securetest.Nodes(t)
	o := withClientCert(env, secureOptions(env, env.One, "", ""))
	o.Meta = KeyspaceOptions{Name: "quiresplit_mbox", ConnectPoints: []string{env.One}, RF: 1, Username: securetest.OneUser, Password: securetest.OnePassword}
	o.Msg = KeyspaceOptions{Name: "quiresplit_msg", ConnectPoints: []string{env.Two}, RF: 1, Username: securetest.TwoUser, Password: securetest.TwoPassword}
	o.Cache = KeyspaceOptions{Name: "quiresplit_cache", ConnectPoints: []string{env.Two}, RF: 1, Username: securetest.TwoUser, Password: securetest.TwoPassword}
	b := mustOpen(t, o)
	if len(b.owned) != 2 {
		t.Errorf("%d sessions, want 2: one per cluster", len(b.owned))
	}
	roundTrip(t, b)
	for _, c := range []struct {
		s    *gocql.Session
		has  string
		lack []string
	}{{b.meta, "quiresplit_mbox", []string{"quiresplit_msg", "quiresplit_cache"}}, {b.msg, "quiresplit_msg", []string{"quiresplit_mbox"}}} {
		var names []string
		it := c.s.Query("SELECT keyspace_name FROM system_schema.keyspaces").Iter()
		var n string
		for it.Scan(&n) {
			names = append(names, n)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(names, " ")
		if !strings.Contains(got, c.has) {
			t.Errorf("keyspaces %s lack %s", got, c.has)
		}
		for _, l := range c.lack {
			if strings.Contains(got, l) {
				t.Errorf("keyspaces %s hold %s, which lives in the other cluster", got, l)
			}
		}
	}

	// Each cluster knows only its own user.
	swapped := o
	swapped.Msg.Username, swapped.Msg.Password = securetest.OneUser, securetest.OnePassword
	_, err := openSecure(t, swapped)
	wantConnectError(t, err, AuthFailed, env.Two, "cassandra "+env.Two+`: authentication failed for user "quire_one": `+
		"check store.casmsgusername and store.casmsgpassword (Provided username quire_one and/or password are incorrect)")

	// A keyspace without credentials of its own uses the shared ones.
	shared := o
	shared.Username, shared.Password = securetest.OneUser, "wrong"
	shared.Meta.Username, shared.Meta.Password = "", ""
	_, err = openSecure(t, shared)
	wantConnectError(t, err, AuthFailed, env.One, "cassandra "+env.One+`: authentication failed for user "quire_one": `+
		"check store.casusername and store.caspassword (Provided username quire_one and/or password are incorrect)")
}

// tcpRelay listens on listen and copies each connection to and from
// target, until the test ends; it returns the address it listens on.
func tcpRelay(t *testing.T, listen, target string) string {
	t.Helper()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			track(in)
			track(out)
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				_, _ = io.Copy(dst, src)
				dst.Close()
				src.Close()
			}
			go pipe(in, out)
			go pipe(out, in)
		}
	}()
	return l.Addr().String()
}

type signer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// writeCert writes name.pem and name.key in dir, and returns their
// paths: a CA when parent is nil, else a client certificate that parent
// signs.
func writeCert(t *testing.T, dir, name string, parent *signer) (certFile, keyFile string, _ *signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	issuer, issuerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		issuer, issuerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, &signer{cert: cert, key: key}
}
