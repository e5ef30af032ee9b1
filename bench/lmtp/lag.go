package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// indexerStats is what the report takes of quire's /indexer/statistics.
type indexerStats struct {
	Indexed      int64   `json:"indexed"`
	Queued       int     `json:"queued"`
	Errors       int64   `json:"errors"`
	Batches      int64   `json:"batches"`
	BatchDocsMax int64   `json:"batch_docs_max"`
	Late         int64   `json:"late_conversions"`
	LagP50Ms     float64 `json:"lag_p50_ms"`
	LagP99Ms     float64 `json:"lag_p99_ms"`
	LagMaxMs     float64 `json:"lag_max_ms"`
}

// indexLag waits, up to a minute, for quire's indexer to have indexed the
// want messages delivered (delivery does not wait for the index), and
// describes its lag: how long messages waited between being stored and
// being indexed, over the last 1,024.
func indexLag(ctx context.Context, srv *benchkit.Target, want int64) string {
	var st indexerStats
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := srv.AdminRequest(ctx, http.MethodGet, "/indexer/statistics")
		if err != nil {
			return "indexer statistics: " + err.Error()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "indexer statistics: " + err.Error()
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			return "indexer statistics: " + err.Error()
		}
		if (st.Indexed >= want && st.Queued == 0) || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Sprintf("index lag over the last 1,024 messages: p50 %.0f ms, p99 %.0f ms, max %.0f ms; %d of %d messages indexed "+
		"in %d index requests (at most %d documents in one), %d errors, %d conversions finished after the reply (past isc.delivery_wait, or the PDF engine's start)",
		st.LagP50Ms, st.LagP99Ms, st.LagMaxMs, st.Indexed, want, st.Batches, st.BatchDocsMax, st.Errors, st.Late)
}
