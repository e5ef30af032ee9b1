package main

import (
	"fmt"
	"strings"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

type report struct {
	opts    options
	facts   benchkit.Facts
	results []result
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.opts
	b.WriteString("## Idle IMAP connections: memory per connection\n\n")
	r.facts.Write(&b)
	fmt.Fprintf(&b, "- load: connections logged in as %d users (%d messages in each INBOX), each having selected INBOX and fetched every envelope and two whole messages before IDLE, as a client syncs before it idles; memory measured after a tenth of the connections and after all, each %v after the last IDLE began and after quire collected garbage and returned free pages to the OS; per connection is the growth between the two over the connections added\n\n",
		o.users, o.preload, o.settle)
	b.WriteString("| target | idle connections | opened in | RSS at a tenth | RSS at all | RSS per connection | PSS / Go heap+stack per connection | woken within 1 s | last woken after |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.results {
		if x.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s | | | | | | | |\n", x.target, x.skipped)
			continue
		}
		added := float64(max(x.opened-x.opened0, 1))
		pss := "PSS " + kb(float64(x.pss1-x.pss0)/added)
		if x.go1 > 0 {
			pss = "Go " + kb(float64(x.go1-x.go0)/added)
		}
		fmt.Fprintf(&b, "| %s | %d of %d | %s | %s | %s | **%s** | %s | %d of %d | %s |\n",
			x.target, x.opened, x.conns, x.openTime.Round(1e6), mib(x.rss0), mib(x.rss1),
			kb(float64(x.rss1-x.rss0)/added), pss, x.woken, x.opened, benchkit.Ms(x.lastWake))
	}
	for _, x := range r.results {
		if x.firstErr != "" {
			fmt.Fprintf(&b, "\n- %s: first error: %s\n", x.target, x.firstErr)
		}
	}
	return b.String()
}

// ratios are Dovecot's memory per idle connection (PSS, which divides its
// shared pages among its processes) over each quire target's (RSS growth):
// "imapidle embedded" is how many times less memory an idle connection
// costs quire.
func (r *report) ratios() benchkit.Ratios {
	out := benchkit.Ratios{}
	var d *result
	for i, x := range r.results {
		if x.skipped == "" && x.target == benchkit.Label("dovecot") {
			d = &r.results[i]
		}
	}
	if d == nil {
		return out
	}
	for _, x := range r.results {
		if x.skipped == "" && x.target != d.target {
			out.Add("imapidle "+benchkit.Short(x.target), perConn(*d, d.pss0, d.pss1), perConn(x, x.rss0, x.rss1))
		}
	}
	return out
}

// perConn is the growth from m0 to m1 over the connections opened between
// the two measurements.
func perConn(x result, m0, m1 int64) float64 {
	return float64(m1-m0) / float64(max(x.opened-x.opened0, 1))
}

func mib(n int64) string  { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
func kb(n float64) string { return fmt.Sprintf("%.1f KB", n/1000) }
