package statuspage

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/indexer"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/testkit"
)

type fakePeers []notify.PeerState

func (f fakePeers) Peers() []notify.PeerState { return f }

type fakeConsistency map[string]bool

func (f fakeConsistency) Degraded() map[string]bool { return f }

type fakePurge store.PurgeTotals

func (f fakePurge) PurgeTotals() store.PurgeTotals { return store.PurgeTotals(f) }

var now = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// cassandraSources is a Cassandra host of group "g1" with one peer up and
// one down, the write class on its fallback, and a conversion failure
// whose text is markup.
func cassandraSources() Sources {
	return Sources{
		Host: "a1.example.org", Role: "serve", Version: "v1.2.3",
		Group: "g1", GroupHosts: []string{"a1.example.org", "a2.example.org", "a3.example.org"},
		Peers: fakePeers{{Addr: "a2.example.org:7000", Up: true, Sent: 12}, {Addr: "a3.example.org:7000", Dropped: 3}},
		Keyspaces: []Keyspace{
			{Role: "meta", Name: "ms_mbox", DataCenter: "dc1", RF: 3, ConnectPoints: []string{"c1", "c2"}},
			{Role: "msg", Name: "ms_msg", DataCenter: "dc1", RF: 3, ConnectPoints: []string{"c1", "c2"}},
			{Role: "cache", Name: "ms_cache", RF: 1, ConnectPoints: []string{"c3"}},
		},
		Strategy:    "NetworkTopologyStrategy",
		Consistency: fakeConsistency{"read": false, "write": true, "delete": false},
		Levels: map[string]Levels{"read": {"LOCAL_QUORUM", "LOCAL_ONE"}, "write": {"LOCAL_QUORUM", "LOCAL_ONE"},
			"delete": {"LOCAL_QUORUM", ""}},
		Converter: func() convert.Stats {
			return convert.Stats{Conversions: map[string]int64{"pdf": 4, "rtf": 1}, Failures: map[string]int64{"pdf": 1},
				CacheHits: 7, CacheMisses: 5, LatencyP50: 12.5, LatencyP99: 80, Fallbacks: 2,
				Remote: map[string]int64{"isc1:8400": 3}, RemoteFailed: map[string]int64{"isc1:8400": 1},
				LastFailure: `pdf "<script>alert(1)</script>.pdf": broken`}
		},
		Indexer: func() indexer.Stats {
			return indexer.Stats{Indexed: 40, Queued: 2, Marks: 5, LagP50Ms: 150, LagP99Ms: 900, LagMaxMs: 1200}
		},
		Purge: fakePurge{Passes: 3, Failures: 1, Freed: 10, FreedBytes: 2048, LogEntries: 2048, ExpungedRows: 6, StrayMailboxes: 2, Orphans: 3, LastFinished: now.Add(-90 * time.Second),
			LastError: "timeout", LastFail: now.Add(-time.Hour)},
		Connections: map[string]func() netserve.Stats{
			"imap": func() netserve.Stats { return netserve.Stats{Open: 2, Accepted: 9, Refused: 1} },
			"lmtp": func() netserve.Stats { return netserve.Stats{Accepted: 4} },
		},
		Refresh: 5 * time.Second,
		Now:     func() time.Time { return now },
	}
}

func render(t *testing.T, src Sources) (string, map[string][][]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(src).ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /status: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	body := rec.Body.String()
	tables, err := testkit.HTMLTables(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return body, tables
}

// TestStatusCassandra renders every section of a Cassandra host and
// compares the tables cell by cell.
func TestStatusCassandra(t *testing.T) {
	body, got := render(t, cassandraSources())
	want := map[string][][]string{
		"host": {{"host", "a1.example.org"}, {"group", "g1"},
			{"member", "a1.example.org"}, {"member", "a2.example.org"}, {"member", "a3.example.org"}},
		"peers": {{"peer", "link", "sent", "dropped"},
			{"a2.example.org:7000", "up", "12", "0"}, {"a3.example.org:7000", "down", "0", "3"}},
		"connections": {{"protocol", "open", "accepted", "refused"}, {"imap", "2", "9", "1"}, {"lmtp", "0", "4", "0"}},
		"store":       {{"backend", "cassandra"}, {"replication strategy", "NetworkTopologyStrategy"}},
		"keyspaces": {{"keyspace", "name", "data center", "replication factor", "connect points"},
			{"meta", "ms_mbox", "dc1", "3", "c1, c2"}, {"msg", "ms_msg", "dc1", "3", "c1, c2"}, {"cache", "ms_cache", "(any)", "1", "c3"}},
		"consistency": {{"query class", "state", "consistency", "fallback"}, {"delete", "normal", "LOCAL_QUORUM", "(none)"},
			{"read", "normal", "LOCAL_QUORUM", "LOCAL_ONE"}, {"write", "fallback", "LOCAL_QUORUM", "LOCAL_ONE"}},
		"converter": {{"conversions", "5"}, {"failures", "1"}, {"cache hits / misses", "7 / 5"},
			{"latency p50 / p99", "12.5 ms / 80.0 ms"}, {"in-process fallbacks", "2"},
			{"kind pdf", "4 converted, 1 failed"}, {"kind rtf", "1 converted, 0 failed"},
			{"host isc1:8400", "3 converted, 1 failed"},
			{"last failure", `pdf "<script>alert(1)</script>.pdf": broken`}},
		"index": {{"queued mailboxes", "2"}, {"marks in the group's queue", "5"}, {"lag p50", "150.0 ms"},
			{"lag p99", "900.0 ms"}, {"lag max", "1200.0 ms"}, {"documents indexed", "40"}, {"errors", "0"}},
		"purge": {{"passes", "3"}, {"failed passes", "1"}, {"last success", "2026-12-05T11:58:30Z (1m30s ago)"},
			{"bodies freed", "10"}, {"bytes freed", "2.0 KiB"}, {"change-log entries trimmed", "2048"},
			{"expunged message rows dropped", "6"}, {"stray mailboxes found", "2"}, {"orphans removed", "3"},
			{"last error", "2026-12-05T11:00:00Z: timeout"}},
	}
	if !reflect.DeepEqual(got, want) {
		for id := range want {
			if !reflect.DeepEqual(got[id], want[id]) {
				t.Errorf("table %s:\n got %q\nwant %q", id, got[id], want[id])
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				t.Errorf("unexpected table %s: %q", id, got[id])
			}
		}
	}
	// The failure's markup is text, escaped by the template.
	if strings.Contains(body, "<script") {
		t.Errorf("the page contains a script element: the template did not escape the converter's failure")
	}
	if !strings.Contains(body, `<meta http-equiv="refresh" content="5">`) {
		t.Errorf("no meta refresh of 5 s in the page")
	}
}

// TestStatusEmbedded: a single host on the embedded store shows its data
// directory with the disk free, and no notifier, keyspaces, consistency
// or index.
func TestStatusEmbedded(t *testing.T) {
	dir := t.TempDir()
	_, got := render(t, Sources{Host: "solo", Role: "serve", DataDir: dir,
		Converter: func() convert.Stats { return convert.Stats{} }, Purge: fakePurge{},
		Connections: map[string]func() netserve.Stats{"pop3": func() netserve.Stats { return netserve.Stats{} }}})
	store := got["store"]
	if len(store) != 3 || !reflect.DeepEqual(store[0], []string{"backend", "embedded"}) ||
		!reflect.DeepEqual(store[1], []string{"data directory", dir}) || store[2][0] != "disk free" ||
		!strings.Contains(store[2][1], "iB of ") {
		t.Errorf("store table %q, want backend, data directory %s and disk free", store, dir)
	}
	for _, id := range []string{"peers", "keyspaces", "consistency", "index"} {
		if _, ok := got[id]; ok {
			t.Errorf("table %s on a single embedded host without an index: %q", id, got[id])
		}
	}
	if want := [][]string{{"host", "solo"}, {"group", "(none: this host is in no group of store.storehostlist)"}}; !reflect.DeepEqual(got["host"], want) {
		t.Errorf("host table %q, want %q", got["host"], want)
	}
	if want := [][]string{{"passes", "0"}, {"failed passes", "0"}, {"last success", "none yet"}, {"bodies freed", "0"}, {"bytes freed", "0 B"},
		{"change-log entries trimmed", "0"}, {"expunged message rows dropped", "0"}, {"stray mailboxes found", "0"},
		{"orphans removed", "0"}}; !reflect.DeepEqual(got["purge"], want) {
		t.Errorf("purge table %q, want %q", got["purge"], want)
	}
}
