package main

import (
	"net/http"

	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
)

// panicked is a component that recovers panics in its goroutines and
// counts them (internal/supervise): the store backends and the notifier.
type panicked interface{ Panics() int64 }

// panicsHandler is GET /server/statistics: per component, the panics
// recovered since start, each logged with its stack at level Error
// ("internal error: ..."). The indexer's and the converter's are also in
// their own statistics. mesh is nil on a single host; the search stack's
// indexer is nil with search.engine = "none".
func panicsHandler(st *store.Store, ss *searchStack, mesh *notify.Mesh) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		p := map[string]int64{"converter": ss.conv.Stats().Panics}
		if b, ok := st.Backend().(panicked); ok {
			p["store"] = b.Panics()
		}
		if mesh != nil {
			p["notify"] = mesh.Panics()
		}
		if ss.svc != nil {
			p["indexer"] = ss.svc.Stats().Panics
		}
		writeJSON(w, map[string]any{"panics": p})
	}
}
