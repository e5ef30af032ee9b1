// Package statuspage renders GET /status: one HTML page that tells an
// operator what this host is, whom it talks to and how its background work
// is doing (docs/METRICS.md, "The status page").
//
// Invariants:
//   - The page reads the same sources as /metrics and /readyz (the
//     notifier's links, the Cassandra backend's consistency state, the
//     converter's, the indexer's and the purge's statistics, the accept
//     loops' counts), through the small interfaces below, at request
//     time: it keeps no state and counts nothing itself.
//   - Everything shown goes through html/template, which escapes it: a
//     converter failure quoting an attachment's name cannot inject markup.
//   - No script: the page refreshes itself with a meta refresh.
//   - The package does not check the admin token; its caller mounts it
//     behind adminapi.RequireToken (the page names hosts, peers and the
//     last conversion failure).
package statuspage

import (
	"net/http"
	"sort"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/indexer"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
)

// Peers is the notifier as the page reads it; *notify.Mesh has it.
type Peers interface{ Peers() []notify.PeerState }

// Consistency is the Cassandra backend's fallback state per query class
// (read, write, delete); *cassandra.Backend has it.
type Consistency interface{ Degraded() map[string]bool }

// Purger is the store's purge totals; *store.Store has it.
type Purger interface{ PurgeTotals() store.PurgeTotals }

// Keyspace is one Cassandra keyspace as configured.
type Keyspace struct {
	Role, Name, DataCenter string // Role: meta, msg, cache
	RF                     int
	ConnectPoints          []string
}

// Levels are a query class's consistency levels (store.casreadconsistency
// and store.casreadfallbackconsistency, and the like).
type Levels struct{ Normal, Fallback string }

// Sources are what the page shows. Nil fields are the parts this host
// does not have (no notifier on a single host, no index, the embedded
// store's fields on Cassandra and the other way round).
type Sources struct {
	Host, Role, Version string
	// Group is this host's store affinity group and GroupHosts its hosts.
	Group      string
	GroupHosts []string
	Peers      Peers
	// Keyspaces and Strategy describe the Cassandra store; DataDir the
	// embedded one (its disk free is read at each request).
	Keyspaces   []Keyspace
	Strategy    string
	DataDir     string
	Consistency Consistency
	// Levels are each query class's configured consistency and its
	// fallback ("" for none), shown beside its state.
	Levels    map[string]Levels
	Converter func() convert.Stats
	Indexer   func() indexer.Stats
	Purge     Purger
	// Connections counts each protocol's connections (imap, pop3, lmtp).
	Connections map[string]func() netserve.Stats
	// Refresh is the meta refresh's period; 0 takes 10 seconds.
	Refresh time.Duration
	// Now is the clock (nil: time.Now), for tests.
	Now func() time.Time
}

// Handler serves the page for GET.
func Handler(src Sources) http.Handler {
	if src.Refresh <= 0 {
		src.Refresh = 10 * time.Second
	}
	if src.Now == nil {
		src.Now = time.Now
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// The page has no script and loads nothing; say so to the browser.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := page.Execute(w, src.snapshot()); err != nil {
			// The header is out: the page ends where the error came.
			http.Error(w, "statuspage: "+err.Error(), http.StatusInternalServerError)
		}
	})
}

// sorted returns m's keys in order.
func sorted[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
