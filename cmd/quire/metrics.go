package main

import (
	"runtime/debug"

	"github.com/quiremail/quire/internal/imapserver"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/metrics"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/pop3server"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/cassandra"
	"github.com/quiremail/quire/internal/store/embedded"
)

// serveMetrics is quire serve's registry (docs/METRICS.md). The observers
// exist before what they observe: the Cassandra one goes into the
// backend's options, the protocol ones into the servers'. The collectors
// of existing statistics are added once the components exist (collect).
// A proxy role would make its own with metrics.New("proxy", ...) and the
// same metrics.NewCommands and metrics.Connections.
type serveMetrics struct {
	reg        *metrics.Registry
	imap, pop3 *metrics.Commands
	lmtp       *metrics.Deliveries
	store      *metrics.Store
	cas        *metrics.Cassandra // nil on the embedded store
}

func newServeMetrics(cfg Config) *serveMetrics {
	reg := metrics.New("serve", buildVersion())
	m := &serveMetrics{
		reg:   reg,
		imap:  metrics.NewCommands(reg, "imap", imapserver.Commands(), metrics.IMAPStatuses()),
		pop3:  metrics.NewCommands(reg, "pop3", pop3server.Commands(), metrics.POP3Statuses()),
		lmtp:  metrics.NewDeliveries(reg),
		store: metrics.NewStore(reg),
	}
	if cfg.Store.DBType == "cassandra" {
		s := cfg.Store
		m.cas = metrics.NewCassandra(reg, []string{s.CasMetaKeyspace, s.CasMsgKeyspace, s.CasCacheKeyspace}, cassandra.ErrorKinds())
	}
	return m
}

// cassandraObserver is the backend's Observer: nil (not a typed nil) on
// the embedded store.
func (m *serveMetrics) cassandraObserver() cassandra.Observer {
	if m.cas == nil {
		return nil
	}
	return m.cas
}

// collect adds the collectors that read the components' own statistics
// at scrape time. mesh is nil on a single host; ss.svc without an index.
func (m *serveMetrics) collect(st *store.Store, ss *searchStack, mesh *notify.Mesh, auth *login.Authenticator, conns map[string]func() netserve.Stats) {
	metrics.Connections(m.reg, conns)
	metrics.Logins(m.reg, auth.Stats)
	metrics.Converter(m.reg, ss.conv.Stats)
	panics := map[string]func() int64{"converter": func() int64 { return ss.conv.Stats().Panics }}
	if b, ok := st.Backend().(panicked); ok {
		panics["store"] = b.Panics
	}
	switch b := st.Backend().(type) {
	case metrics.CassandraState:
		metrics.CassandraBackend(m.reg, b)
	case *embedded.Backend:
		metrics.TextPurge(m.reg, func() (int64, int64, int64) {
			p := b.PurgeStats()
			return p.Runs, p.Failed, p.Purged
		})
		metrics.StoreSyncs(m.reg, b.Syncs)
	}
	if ss.svc != nil {
		metrics.Indexer(m.reg, ss.svc.Stats)
		panics["indexer"] = func() int64 { return ss.svc.Stats().Panics }
	}
	if mesh != nil {
		metrics.Notifier(m.reg, mesh)
		panics["notify"] = mesh.Panics
	}
	metrics.Purge(m.reg, func() metrics.PurgeFigures {
		p := st.PurgeTotals()
		f := metrics.PurgeFigures{Passes: p.Passes, Failures: p.Failures, Freed: p.Freed, FreedBytes: p.FreedBytes,
			DeletedMailboxes: p.DeletedMailboxes, LogEntries: p.LogEntries, ExpungedRows: p.ExpungedRows,
			StrayMailboxes: p.StrayMailboxes, Orphans: p.Orphans, Seconds: p.Seconds}
		if !p.LastFinished.IsZero() {
			f.LastSuccess = float64(p.LastFinished.UnixMilli()) / 1e3
		}
		return f
	})
	metrics.Panics(m.reg, panics)
}

// buildVersion is the module version the binary was built from, or
// "(devel)" for a build from a work tree.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
