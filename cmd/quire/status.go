package main

import (
	"net/http"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/statuspage"
	"github.com/quiremail/quire/internal/store"
)

// statusPage is serve's GET /status (internal/statuspage), behind the
// admin token like the rest of the private mux. It reads what /metrics
// and /readyz read: the notifier's links, the backend's consistency
// state, the converter's, the indexer's and the purge's statistics and
// the accept loops' counts; the keyspaces and the group come from the
// configuration this process runs with.
func statusPage(cfg Config, st *store.Store, ss *searchStack, mesh *notify.Mesh, conns map[string]func() netserve.Stats) http.Handler {
	groups := directory.NewGroups(cfg.Store.StoreHostList)
	group, _ := groups.Resolve(cfg.Server.Hostname)
	src := statuspage.Sources{
		Host: cfg.Server.Hostname, Role: "serve", Version: buildVersion(),
		Group: group, GroupHosts: groups.Hosts(group),
		Converter: ss.conv.Stats, Purge: st, Connections: conns,
	}
	if mesh != nil {
		src.Peers = mesh
	}
	if ss.svc != nil {
		src.Indexer = ss.svc.Stats
	}
	if c, ok := st.Backend().(statuspage.Consistency); ok {
		src.Consistency = c
	}
	switch cfg.Store.DBType {
	case "embedded":
		src.DataDir = cfg.Store.DataDir
	case "cassandra":
		o := cassandraOptions(cfg, nil)
		src.Strategy = o.Strategy
		src.Levels = map[string]statuspage.Levels{"read": {Normal: o.ReadConsistency, Fallback: o.ReadFallback},
			"write": {Normal: o.WriteConsistency, Fallback: o.WriteFallback}, "delete": {Normal: o.DeleteConsistency, Fallback: o.DeleteFallback}}
		src.Keyspaces = []statuspage.Keyspace{
			{Role: "meta", Name: o.Meta.Name, DataCenter: o.Meta.DataCenter, RF: o.Meta.RF, ConnectPoints: o.Meta.ConnectPoints},
			{Role: "msg", Name: o.Msg.Name, DataCenter: o.Msg.DataCenter, RF: o.Msg.RF, ConnectPoints: o.Msg.ConnectPoints},
			{Role: "cache", Name: o.Cache.Name, DataCenter: o.Cache.DataCenter, RF: o.Cache.RF, ConnectPoints: o.Cache.ConnectPoints},
		}
	}
	return statuspage.Handler(src)
}
