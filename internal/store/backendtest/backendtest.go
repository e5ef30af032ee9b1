// Package backendtest opens each store backend for the tests of packages
// above the store (protocol servers), so every protocol test runs on the
// embedded store and on a real Cassandra alike.
//
// Cassandra is used when QUIRE_TEST_CASSANDRA names a node (host:port); a
// missing node skips the Cassandra half, or fails it when
// QUIRE_REQUIRE_CASSANDRA=1 (as make test sets). Tests on Cassandra share
// the quiretest_* keyspaces and isolate themselves with fresh random users.
package backendtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/cassandra"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/testkit"
)

// Run runs fn as a subtest on each backend, with a fresh Store.
func Run(t *testing.T, opts store.Options, fn func(t *testing.T, st *store.Store)) {
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			fn(t, store.New(Open(t, name), opts))
		})
	}
}

// Open opens the named backend ("embedded" in a temp dir, "cassandra" on
// the test node); it is closed when the test ends.
func Open(t testing.TB, name string) store.Backend {
	t.Helper()
	return OpenBuckets(t, name, 0)
}

// OpenBuckets is Open with Cassandra's change log in buckets of
// bucketSize entries (0: the default), so that a test crosses buckets
// with a few changes (the change log's trimming drops whole buckets).
func OpenBuckets(t testing.TB, name string, bucketSize int) store.Backend {
	t.Helper()
	switch name {
	case "embedded":
		b, err := embedded.Open(t.TempDir(), embedded.Options{NoSync: true})
		if err != nil {
			t.Fatalf("embedded.Open: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	case "cassandra":
		o := CassandraOptions(t)
		if bucketSize > 0 {
			o.BucketSize = bucketSize
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		b, err := cassandra.Open(ctx, o)
		if err != nil {
			t.Fatalf("cassandra.Open: %v", err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	t.Fatalf("backendtest: unknown backend %q", name)
	return nil
}

// CassandraAddr returns the test node, skipping (or failing, see the
// package doc) when there is none.
func CassandraAddr(t testing.TB) string {
	t.Helper()
	return testkit.Env(t, "CASSANDRA", "host:port of a Cassandra node", "scripts/cassandra.sh start")
}

// CassandraOptions are backend options for the shared test keyspaces.
func CassandraOptions(t testing.TB) cassandra.Options {
	addr := CassandraAddr(t)
	o := cassandra.DefaultOptions()
	ks := func(name string) cassandra.KeyspaceOptions {
		return cassandra.KeyspaceOptions{Name: name, ConnectPoints: []string{addr}, RF: 1}
	}
	o.Meta, o.Msg, o.Cache = ks("quiretest_mbox"), ks("quiretest_msg"), ks("quiretest_cache")
	o.Strategy, o.DurableWrites = cassandra.Simple, false
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// Address returns a fresh random address in domain test.quire.
func Address(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:]) + "@test.quire"
}

// Deliver puts msg into u's INBOX as an LMTP delivery would.
func Deliver(t testing.TB, st *store.Store, u store.User, msg string) {
	t.Helper()
	sp, err := st.Spool(strings.NewReader(msg), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if errs := st.Deliver(context.Background(), sp, "sender@test.quire", []store.User{u}); errs[0] != nil {
		t.Fatal(errs[0])
	}
}
