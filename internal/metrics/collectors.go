package metrics

import (
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/indexer"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
)

// collector reads existing statistics at scrape time.
type collector struct {
	descs   []*prometheus.Desc
	collect func(emit func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string))
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	})
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue
)

// sortedKeys keeps a scrape's order stable.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// Connections adds quire_connections{protocol} and the accept loops'
// counters; stats returns a protocol's counts over all its listeners.
func Connections(r *Registry, stats map[string]func() netserve.Stats) {
	open := desc("quire_connections", "Connections open now, by protocol.", "protocol")
	accepted := desc("quire_connections_accepted_total", "Connections accepted, by protocol.", "protocol")
	refused := desc("quire_connections_refused_total", "Connections refused for max_connections, by protocol.", "protocol")
	errs := desc("quire_accept_errors_total", "Temporary accept errors (EMFILE and the like) waited out, by protocol.", "protocol")
	r.Register(&collector{descs: []*prometheus.Desc{open, accepted, refused, errs}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		for _, p := range sortedKeys(stats) {
			s := stats[p]()
			emit(open, gauge, float64(s.Open), p)
			emit(accepted, counter, float64(s.Accepted), p)
			emit(refused, counter, float64(s.Refused), p)
			emit(errs, counter, float64(s.AcceptErrors), p)
		}
	}})
}

// Logins adds the password checks' counters (shared by IMAP and POP3).
func Logins(r *Registry, stats func() login.Stats) {
	total := desc("quire_logins_total", "Login attempts by result: passed (password checked), cached (verified recently), failed (wrong password or no such user), busy (refused: password checks at their memory budget).", "result")
	throttled := desc("quire_login_throttled_total", "Login attempts delayed for earlier failures of their user or address (login.free_failures, login.max_delay).")
	waiting := desc("quire_login_hash_queue", "Password checks waiting for memory (login.hash_memory) now.")
	r.Register(&collector{descs: []*prometheus.Desc{total, throttled, waiting}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		s := stats()
		emit(total, counter, float64(s.Passed), "passed")
		emit(total, counter, float64(s.Cached), "cached")
		emit(total, counter, float64(s.Failed), "failed")
		emit(total, counter, float64(s.Busy), "busy")
		emit(throttled, counter, float64(s.Delayed))
		emit(waiting, gauge, float64(s.HashWaiting))
	}})
}

// Converter adds the converter's statistics (GET /converter/statistics).
func Converter(r *Registry, stats func() convert.Stats) {
	conv := desc("quire_converter_conversions_total", "Parts converted to text, by kind (cache hits excluded).", "kind")
	fail := desc("quire_converter_failures_total", "Conversions that failed (the part is indexed by its name), by kind.", "kind")
	cache := desc("quire_converter_cache_lookups_total", "Lookups of the conversion cache, by result.", "result")
	bytes := desc("quire_converter_bytes_total", "Bytes converted, by direction (in: parts, out: text).", "direction")
	remote := desc("quire_converter_remote_total", "Conversions sent to converter hosts (isc.hosts), by host and result.", "host", "result")
	fallback := desc("quire_converter_fallbacks_total", "Parts converted in process because no converter host answered.")
	lat := desc("quire_converter_latency_seconds", "Conversion latency over the last 1,024 conversions, by quantile.", "quantile")
	r.Register(&collector{descs: []*prometheus.Desc{conv, fail, cache, bytes, remote, fallback, lat}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		s := stats()
		for _, k := range sortedKeys(s.Conversions) {
			emit(conv, counter, float64(s.Conversions[k]), k)
		}
		for _, k := range sortedKeys(s.Failures) {
			emit(fail, counter, float64(s.Failures[k]), k)
		}
		emit(cache, counter, float64(s.CacheHits), "hit")
		emit(cache, counter, float64(s.CacheMisses), "miss")
		emit(bytes, counter, float64(s.BytesIn), "in")
		emit(bytes, counter, float64(s.BytesOut), "out")
		for _, h := range sortedKeys(s.Remote) {
			emit(remote, counter, float64(s.Remote[h]), h, "ok")
		}
		for _, h := range sortedKeys(s.RemoteFailed) {
			emit(remote, counter, float64(s.RemoteFailed[h]), h, "failed")
		}
		emit(fallback, counter, float64(s.Fallbacks))
		emit(lat, gauge, s.LatencyP50/1000, "0.5")
		emit(lat, gauge, s.LatencyP90/1000, "0.9")
		emit(lat, gauge, s.LatencyP99/1000, "0.99")
	}})
}

// Indexer adds the indexer's statistics (GET /indexer/statistics).
func Indexer(r *Registry, stats func() indexer.Stats) {
	indexed := desc("quire_indexer_documents_total", "Documents written to the search index.")
	catchUps := desc("quire_indexer_catch_ups_total", "Mailboxes caught up.")
	errs := desc("quire_indexer_errors_total", "Failed catch-ups and deletions (retried, or left to a reindex).")
	dropped := desc("quire_indexer_dropped_total", "Deletions dropped on a full queue.")
	queued := desc("quire_indexer_queue", "Mailboxes waiting for a background catch-up on this host.")
	marks := desc("quire_indexer_marks", "Marks in this group's index queue at the last sweep (mailboxes behind).")
	batches := desc("quire_indexer_batches_total", "Index requests sent.")
	late := desc("quire_indexer_late_conversions_total", "Deliveries whose conversion outlasted isc.delivery_wait, or waited for the PDF engine's start, and finished in the background.")
	lag := desc("quire_indexer_lag_seconds", "Time from store to index over the last 1,024 documents, by quantile (1: the maximum).", "quantile")
	vsweeps := desc("quire_indexer_vocabulary_sweeps_total", "Sweeps of the embedded index's vocabulary.")
	vremoved := desc("quire_indexer_vocabulary_removed_total", "Words the vocabulary sweeps removed (no document held them).")
	r.Register(&collector{descs: []*prometheus.Desc{indexed, catchUps, errs, dropped, queued, marks, batches, late, lag, vsweeps, vremoved}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		s := stats()
		emit(indexed, counter, float64(s.Indexed))
		emit(catchUps, counter, float64(s.CatchUps))
		emit(errs, counter, float64(s.Errors))
		emit(dropped, counter, float64(s.Dropped))
		emit(queued, gauge, float64(s.Queued))
		emit(marks, gauge, float64(s.Marks))
		emit(batches, counter, float64(s.Batches))
		emit(late, counter, float64(s.LateConversions))
		emit(lag, gauge, s.LagP50Ms/1000, "0.5")
		emit(lag, gauge, s.LagP99Ms/1000, "0.99")
		emit(lag, gauge, s.LagMaxMs/1000, "1")
		emit(vsweeps, counter, float64(s.VocabularySweeps))
		emit(vremoved, counter, float64(s.VocabularyRemoved))
	}})
}

// Mesh is what Notifier reads of the notifier; *notify.Mesh has it.
type Mesh interface {
	Peers() []notify.PeerState
	Stats() (sent, dropped map[string]int64, received, rejected int64)
}

// Notifier adds the notifier's links and events.
func Notifier(r *Registry, m Mesh) {
	up := desc("quire_notify_peer_up", "1 when the link to a peer of this host's group is up, else 0.", "peer")
	sent := desc("quire_notify_sent_total", "Events sent, by peer.", "peer")
	dropped := desc("quire_notify_dropped_total", "Events dropped (queue full or link broken), by peer.", "peer")
	received := desc("quire_notify_received_total", "Events received from peers.")
	rejected := desc("quire_notify_rejected_total", "Incoming links refused for a bad notify.secret.")
	r.Register(&collector{descs: []*prometheus.Desc{up, sent, dropped, received, rejected}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		for _, p := range m.Peers() {
			v := 0.0
			if p.Up {
				v = 1
			}
			emit(up, gauge, v, p.Addr)
		}
		s, d, rec, rej := m.Stats()
		for _, a := range sortedKeys(s) {
			emit(sent, counter, float64(s[a]), a)
			emit(dropped, counter, float64(d[a]), a)
		}
		emit(received, counter, float64(rec))
		emit(rejected, counter, float64(rej))
	}})
}

// CassandraState is what CassandraBackend reads of the Cassandra backend.
type CassandraState interface {
	LWTs() int64
	Degraded() map[string]bool
}

// CassandraBackend adds the Paxos rounds and each query class's
// consistency state.
func CassandraBackend(r *Registry, b CassandraState) {
	lwts := desc("quire_cassandra_paxos_rounds_total", "Lightweight transactions (conditional writes, each attempt) run.")
	fb := desc("quire_cassandra_consistency_fallback", "1 while a query class (read, write, delete) runs on its fallback consistency, else 0.", "class")
	r.Register(&collector{descs: []*prometheus.Desc{lwts, fb}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		emit(lwts, counter, float64(b.LWTs()))
		d := b.Degraded()
		for _, c := range sortedKeys(d) {
			v := 0.0
			if d[c] {
				v = 1
			}
			emit(fb, gauge, v, c)
		}
	}})
}

// Panics adds quire_panics_total{component}: the panics each component
// recovered (logged with their stacks).
func Panics(r *Registry, counts map[string]func() int64) {
	d := desc("quire_panics_total", "Panics recovered (each logged with its stack), by component.", "component")
	r.Register(&collector{descs: []*prometheus.Desc{d}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		for _, c := range sortedKeys(counts) {
			emit(d, counter, float64(counts[c]()), c)
		}
	}})
}

// TextPurge adds the embedded store's purges of expired converted text;
// stats returns its runs, failed runs and entries purged.
func TextPurge(r *Registry, stats func() (runs, failed, purged int64)) {
	runs := desc("quire_store_text_purges_total", "Purges of expired converted text (the embedded store's conversion cache, store.cachettl), by result.", "result")
	purged := desc("quire_store_text_purged_total", "Expired converted texts deleted by the purges.")
	r.Register(&collector{descs: []*prometheus.Desc{runs, purged}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		n, failed, p := stats()
		emit(runs, counter, float64(n-failed), "ok")
		emit(runs, counter, float64(failed), "error")
		emit(purged, counter, float64(p))
	}})
}

// PurgeFigures are the purge's totals since the process started (the
// store's PurgeTotals, passed as plain numbers).
type PurgeFigures struct {
	Passes, Failures, Freed, FreedBytes, DeletedMailboxes, LogEntries, Orphans int64
	ExpungedRows, StrayMailboxes                                               int64
	Seconds                                                                    float64
	// LastSuccess is the end of the last pass that succeeded, unix
	// seconds; 0 if none did.
	LastSuccess float64
}

// Purge adds the purge of unreferenced bodies and deleted mailboxes'
// rows (store.purge): passes by result, what they freed, their time.
func Purge(r *Registry, stats func() PurgeFigures) {
	passes := desc("quire_store_purge_passes_total", "Purge passes run by this process (background or quire purge), by result.", "result")
	bodies := desc("quire_store_purge_freed_bodies_total", "Message bodies the purge freed.")
	bytes := desc("quire_store_purge_freed_bytes_total", "Bytes the purge freed (stored size on the embedded store, raw size on Cassandra).")
	boxes := desc("quire_store_purge_deleted_mailboxes_total", "Deleted mailboxes whose rows the purge dropped (Cassandra).")
	logs := desc("quire_store_purge_log_entries_total", "Change-log entries older than store.purge.log_history the purge dropped.")
	expunged := desc("quire_store_purge_expunged_rows_total", "Rows of messages expunged below a mailbox's change-log floor the purge dropped (with the log trim).")
	strays := desc("quire_store_purge_stray_mailboxes_total", "Stray mailboxes the purge found: rows no mailbox record reaches, of a creation that stopped half-way or raced its user's deletion.")
	orphans := desc("quire_store_purge_orphans_total", "Pieces of writes that never landed the purge removed (body chunks and files, spilled metadata).")
	secs := desc("quire_store_purge_seconds_total", "Time spent in purge passes.")
	last := desc("quire_store_purge_last_success_timestamp_seconds", "When the last successful purge pass ended (unix seconds; 0: none yet).")
	r.Register(&collector{descs: []*prometheus.Desc{passes, bodies, bytes, boxes, logs, expunged, strays, orphans, secs, last}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		f := stats()
		emit(passes, counter, float64(f.Passes-f.Failures), "ok")
		emit(passes, counter, float64(f.Failures), "error")
		emit(bodies, counter, float64(f.Freed))
		emit(bytes, counter, float64(f.FreedBytes))
		emit(boxes, counter, float64(f.DeletedMailboxes))
		emit(logs, counter, float64(f.LogEntries))
		emit(expunged, counter, float64(f.ExpungedRows))
		emit(strays, counter, float64(f.StrayMailboxes))
		emit(orphans, counter, float64(f.Orphans))
		emit(secs, counter, f.Seconds)
		emit(last, gauge, f.LastSuccess)
	}})
}

// StoreSyncs adds quire_store_fsyncs_total: the embedded store's syncs
// of its files and directories (write-ahead log, tables, body files).
// Deliveries per sync tell how well concurrent commits are grouped.
func StoreSyncs(r *Registry, syncs func() int64) {
	d := desc("quire_store_fsyncs_total", "Syncs (fsync, fdatasync) of the embedded store's files and directories: write-ahead log, tables, body files.")
	r.Register(&collector{descs: []*prometheus.Desc{d}, collect: func(emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
		emit(d, counter, float64(syncs()))
	}})
}
