package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// storeSyncs reads quire_store_fsyncs_total from a quire target's
// /metrics: the embedded store's syncs so far. ok is false for a target
// without it (Dovecot, the Cassandra store).
func storeSyncs(ctx context.Context, srv *benchkit.Target) (n float64, ok bool) {
	if srv.TokenFile == "" {
		return 0, false
	}
	req, err := srv.AdminRequest(ctx, http.MethodGet, "/metrics")
	if err != nil {
		return 0, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "quire_store_fsyncs_total "); found {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n, err == nil
		}
	}
	return 0, false
}

// perSync describes the deliveries a scenario made per sync of the
// store, or "" when the target does not count them.
func perSync(before float64, okBefore bool, after float64, okAfter bool, deliveries int) string {
	if !okBefore || !okAfter || after <= before {
		return ""
	}
	syncs := after - before
	return fmt.Sprintf("%.0f store syncs, %.2f recipient deliveries per sync", syncs, float64(deliveries)/syncs)
}
