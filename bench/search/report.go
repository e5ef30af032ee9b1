package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

type report struct {
	opts    options
	corpus  *benchkit.Corpus
	facts   benchkit.Facts
	results []result
}

func (r *report) find(name string) *result {
	for i := range r.results {
		if r.results[i].target == label(name) && r.results[i].skipped == "" {
			return &r.results[i]
		}
	}
	return nil
}

func (r *report) markdown() string {
	var b strings.Builder
	n := len(r.corpus.Msgs)
	fmt.Fprintf(&b, "## SEARCH on one mailbox of %d messages\n\n", n)
	r.facts.Write(&b)
	fmt.Fprintf(&b, "- corpus: %d messages of gen_mbox.py (%.0f bytes on average) and one probe message whose word %q is only in a DOCX attachment\n",
		n-1, r.corpus.AvgSize, probeWord)
	fmt.Fprintf(&b, "- each query: one untimed run (which gives the hits, and whose time is the \"first\" figure: it makes what a server keeps for later queries, such as quire's phrase filters), then up to %d timed runs within %v, one client\n\n", r.opts.reps, r.opts.perQuery)

	var ran []*result
	for i := range r.results {
		if r.results[i].skipped == "" {
			ran = append(ran, &r.results[i])
		}
	}
	b.WriteString("### Latency (p50 / p99) and hits\n\n| query |")
	for _, x := range ran {
		b.WriteString(" " + x.target + " |")
	}
	b.WriteString("\n|---|")
	for range ran {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, q := range queries {
		fmt.Fprintf(&b, "| %s (`%s`) |", q.name(), q.program())
		for _, x := range ran {
			l := x.lat[q.name()]
			if len(l) == 0 {
				b.WriteString(" – |")
				continue
			}
			p50, p99 := l.P50P99()
			fmt.Fprintf(&b, " %s / %s · %d hits · first %s |", benchkit.Ms(p50), benchkit.Ms(p99), x.hits[q.name()], benchkit.Ms(x.first[q.name()]))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	r.ratios(&b)

	b.WriteString("### Indexing\n\n| target | deliveries | indexing | index size per message |\n|---|---|---|---|\n")
	for _, x := range ran {
		fill := fmt.Sprintf("%.0f messages/s", float64(n)/x.fill.Seconds())
		idx, size := "no index", "–"
		if x.indexed > 0 {
			idx = fmt.Sprintf("%.0f messages/s (%s)", float64(n)/x.indexed.Seconds(), x.indexSpan)
		}
		if x.indexBytes > 0 {
			size = fmt.Sprintf("%.0f bytes", float64(x.indexBytes)/float64(n))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", x.target, fill, idx, size)
	}
	b.WriteString("\n### A word only an attachment holds\n\n")
	for _, x := range ran {
		fmt.Fprintf(&b, "- %s: `BODY %s` finds %d message(s)\n", x.target, probeWord, x.probe)
	}
	b.WriteString("\n")
	for _, x := range r.results {
		switch {
		case x.skipped != "":
			fmt.Fprintf(&b, "- %s skipped: %s\n", x.target, x.skipped)
		case x.firstErr != "":
			fmt.Fprintf(&b, "- %s: first error: %s\n", x.target, x.firstErr)
		}
		for _, note := range x.notes {
			fmt.Fprintf(&b, "- %s: %s\n", x.target, note)
		}
	}
	return b.String()
}

// ratioFigures are each quire target's p50 against each Dovecot's, query
// by query: "search embedded/dovecot BODY köln" is Dovecot's p50 over
// quire's, larger being faster.
func (r *report) ratioFigures() benchkit.Ratios {
	out := benchkit.Ratios{}
	for _, name := range []string{"embedded", "cassandra"} {
		q := r.find(name)
		if q == nil {
			continue
		}
		for _, d := range []string{"dovecot", "dovecot-xapian"} {
			x := r.find(d)
			if x == nil {
				continue
			}
			for _, qq := range queries {
				if len(q.lat[qq.name()]) == 0 || len(x.lat[qq.name()]) == 0 {
					continue
				}
				mine, _ := q.lat[qq.name()].P50P99()
				theirs, _ := x.lat[qq.name()].P50P99()
				out.Add(fmt.Sprintf("search %s/%s %s", name, d, qq.name()), float64(theirs), float64(mine))
			}
		}
	}
	return out
}

// ratios compares each quire target with both Dovecots, query by query,
// on p50: issue 6's targets are at most 20 ms (embedded), at least 10x
// faster than Dovecot without FTS, and no slower than Dovecot with
// Xapian.
func (r *report) ratios(b *strings.Builder) {
	plain, xap := r.find("dovecot"), r.find("dovecot-xapian")
	if plain == nil && xap == nil {
		return
	}
	ratio := func(x *result, name string, mine time.Duration) string {
		if x == nil || len(x.lat[name]) == 0 || mine <= 0 {
			return "–"
		}
		p, _ := x.lat[name].P50P99()
		return fmt.Sprintf("%.1fx", float64(p)/float64(mine))
	}
	for _, name := range []string{"embedded", "cassandra"} {
		q := r.find(name)
		if q == nil {
			continue
		}
		fmt.Fprintf(b, "### %s against Dovecot, p50\n\n| query | quire p50 | Dovecot without FTS ÷ quire | Dovecot with Xapian ÷ quire |\n|---|---|---|---|\n", q.target)
		for _, qq := range queries {
			if len(q.lat[qq.name()]) == 0 {
				continue
			}
			mine, _ := q.lat[qq.name()].P50P99()
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", qq.name(), benchkit.Ms(mine), ratio(plain, qq.name(), mine), ratio(xap, qq.name(), mine))
		}
		b.WriteString("\n")
	}
}
