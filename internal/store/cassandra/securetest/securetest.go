// Package securetest gives tests the Cassandra nodes of
// scripts/cassandra-secure.sh, which require a password and TLS: node One
// asks for TLS, node Two also for a client certificate. Each node is a
// cluster of its own; Nodes makes the tests' role in each (OneUser on
// One, TwoUser on Two), so the two stand for keyspaces in different
// clusters with different credentials.
//
// The nodes are named by QUIRE_TEST_CASSANDRA_SECURE (two host:port,
// comma-separated) and their certificates' directory by
// QUIRE_TEST_CASSANDRA_SECURE_CERTS; without them tests skip, or fail
// under QUIRE_REQUIRE_CASSANDRA_SECURE=1 (make test).
package securetest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/testkit"
)

// The tests' roles. Their passwords are constants: a role outlives a test
// run with its node, and Cassandra refuses to change a password twice
// within 5 s.
const (
	OneUser, OnePassword = "quire_one", "one-secret-0123"
	TwoUser, TwoPassword = "quire_two", "two-secret-4567"
)

// Env is the two nodes and their certificates.
type Env struct {
	One, Two string // host:port
	Certs    string // directory of ca.pem, client.pem, client.key
}

// CAFile is the CA that signed the nodes' certificates and the client's.
func (e Env) CAFile() string { return filepath.Join(e.Certs, "ca.pem") }

// ClientCert and ClientKey are the client certificate node Two asks for.
func (e Env) ClientCert() string { return filepath.Join(e.Certs, "client.pem") }

// ClientKey is ClientCert's key.
func (e Env) ClientKey() string { return filepath.Join(e.Certs, "client.key") }

var (
	once    sync.Once
	rolesOK error
)

// Nodes returns the secured nodes, once the tests' roles are in place.
func Nodes(t testing.TB) Env {
	t.Helper()
	v := testkit.Env(t, "CASSANDRA_SECURE", "the two nodes that require a password and TLS", "scripts/cassandra-secure.sh start")
	one, two, ok := strings.Cut(v, ",")
	if !ok {
		t.Fatalf("QUIRE_TEST_CASSANDRA_SECURE = %q: want two host:port, comma-separated", v)
	}
	e := Env{One: one, Two: two, Certs: os.Getenv("QUIRE_TEST_CASSANDRA_SECURE_CERTS")}
	once.Do(func() { rolesOK = e.makeRoles() })
	if rolesOK != nil {
		t.Fatal(rolesOK)
	}
	return e
}

// makeRoles logs in to each node as the default superuser
// (cassandra/cassandra) and makes the tests' role there.
func (e Env) makeRoles() error {
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(e.CAFile())
	if err != nil {
		return fmt.Errorf("securetest: %w (QUIRE_TEST_CASSANDRA_SECURE_CERTS)", err)
	}
	roots.AppendCertsFromPEM(pem)
	cert, err := tls.LoadX509KeyPair(e.ClientCert(), e.ClientKey())
	if err != nil {
		return fmt.Errorf("securetest: %w", err)
	}
	for _, n := range []struct{ addr, user, password string }{{e.One, OneUser, OnePassword}, {e.Two, TwoUser, TwoPassword}} {
		c := gocql.NewCluster(n.addr)
		c.Authenticator = gocql.PasswordAuthenticator{Username: "cassandra", Password: "cassandra"}
		c.SslOpts = &gocql.SslOptions{Config: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			EnableHostVerification: true}
		c.Timeout, c.ConnectTimeout = 30*time.Second, 10*time.Second
		c.Consistency = gocql.One
		s, err := c.CreateSession()
		if err != nil {
			return fmt.Errorf("securetest: log in to %s as the default superuser: %w", n.addr, err)
		}
		q := fmt.Sprintf("CREATE ROLE IF NOT EXISTS %s WITH PASSWORD = '%s' AND LOGIN = true", n.user, n.password)
		err = s.Query(q).Exec()
		s.Close()
		if err != nil {
			return fmt.Errorf("securetest: %s on %s: %w", q, n.addr, err)
		}
	}
	return nil
}
