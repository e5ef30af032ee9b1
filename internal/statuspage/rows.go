package statuspage

import (
	"fmt"
	"strconv"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/store"
)

func converterRows(s convert.Stats) []row {
	var conv, fail int64
	for _, n := range s.Conversions {
		conv += n
	}
	for _, n := range s.Failures {
		fail += n
	}
	rows := []row{
		{Name: "conversions", Cells: []string{num(conv)}},
		{Name: "failures", Cells: []string{num(fail)}, Bad: fail > 0},
		{Name: "cache hits / misses", Cells: []string{num(s.CacheHits) + " / " + num(s.CacheMisses)}},
		{Name: "latency p50 / p99", Cells: []string{ms(s.LatencyP50) + " / " + ms(s.LatencyP99)}},
		{Name: "in-process fallbacks", Cells: []string{num(s.Fallbacks)}},
	}
	for _, k := range sorted(s.Conversions) {
		rows = append(rows, row{Name: "kind " + k, Cells: []string{fmt.Sprintf("%d converted, %d failed", s.Conversions[k], s.Failures[k])}})
	}
	for _, h := range sorted(s.Remote) {
		rows = append(rows, row{Name: "host " + h, Cells: []string{fmt.Sprintf("%d converted, %d failed", s.Remote[h], s.RemoteFailed[h])}, Bad: s.RemoteFailed[h] > 0})
	}
	if s.LastFailure != "" {
		rows = append(rows, row{Name: "last failure", Cells: []string{s.LastFailure}, Bad: true})
	}
	return rows
}

func purgeRows(p store.PurgeTotals, now time.Time) []row {
	last := "none yet"
	if !p.LastFinished.IsZero() {
		last = p.LastFinished.UTC().Format(time.RFC3339) + " (" + now.Sub(p.LastFinished).Round(time.Second).String() + " ago)"
	}
	rows := []row{
		{Name: "passes", Cells: []string{num(p.Passes)}},
		{Name: "failed passes", Cells: []string{num(p.Failures)}, Bad: p.Failures > 0},
		{Name: "last success", Cells: []string{last}},
		{Name: "bodies freed", Cells: []string{num(p.Freed)}},
		{Name: "bytes freed", Cells: []string{bytes(uint64(max(p.FreedBytes, 0)))}},
		{Name: "change-log entries trimmed", Cells: []string{num(p.LogEntries)}},
		{Name: "expunged message rows dropped", Cells: []string{num(p.ExpungedRows)}},
		{Name: "stray mailboxes found", Cells: []string{num(p.StrayMailboxes)}},
		{Name: "orphans removed", Cells: []string{num(p.Orphans)}},
	}
	if p.LastError != "" {
		rows = append(rows, row{Name: "last error", Cells: []string{p.LastFail.UTC().Format(time.RFC3339) + ": " + p.LastError}, Bad: true})
	}
	return rows
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

// ms formats milliseconds.
func ms(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }

// bytes formats a size in binary units.
func bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatUint(n, 10) + " B"
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
