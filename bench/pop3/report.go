package main

import (
	"fmt"
	"strings"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// report renders the results with the facts needed to compare runs.
type report struct {
	opts    options
	corpus  *benchkit.Corpus
	facts   benchkit.Facts
	results []result
	notes   []string
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.opts
	b.WriteString("## POP3 downloads: Quire vs Dovecot\n\n")
	r.facts.Write(&b)
	fmt.Fprintf(&b, "- corpus: %d messages from bench/corpus/gen_mbox.py, average %.1f KB (CRLF); %d delivered to each maildrop first\n",
		len(r.corpus.Msgs), r.corpus.AvgSize/1000, o.preload)
	fmt.Fprintf(&b, "- load: %d clients on %d users for %v per target; a session is connect, USER+PASS, STAT, UIDL, %d × RETR of a random message, QUIT\n\n",
		o.clients, o.users, o.duration, o.retr)

	b.WriteString("| target | sessions | downloads | downloads/s | MB/s | errors | ratio to Dovecot |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.results {
		if x.skipped != "" {
			fmt.Fprintf(&b, "| %s | | | | | | skipped |\n", x.target)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %.1f | %d | %s |\n", x.target, x.st.sessions, x.st.downloads(),
			x.st.downloadsPerSec(), x.st.mbPerSec(), x.st.errors(), r.ratio(x))
	}
	b.WriteString("\nLatency per step, p50 / p99:\n\n")
	var outs []benchkit.Outcome
	for _, x := range r.results {
		o := benchkit.Outcome{Label: x.target}
		if x.st != nil {
			o.Lat, o.FirstErr = x.st.lat, x.st.firstErr
		}
		outs = append(outs, o)
	}
	benchkit.ReportTail(&b, "step", steps, outs, r.notes)
	return b.String()
}

// ratio is this row's downloads/s over Dovecot's.
func (r *report) ratio(x result) string {
	if d := r.dovecot(); d != nil {
		return fmt.Sprintf("%.2f", x.st.downloadsPerSec()/d.st.downloadsPerSec())
	}
	return "n/a"
}

// dovecot is Dovecot's result, if it ran.
func (r *report) dovecot() *result {
	for i, d := range r.results {
		if strings.HasPrefix(d.target, "dovecot") && d.st != nil && d.st.downloads() > 0 {
			return &r.results[i]
		}
	}
	return nil
}

// ratios are each quire target's downloads/s over Dovecot's ("pop3 embedded").
func (r *report) ratios() benchkit.Ratios {
	labels := make([]string, len(r.results))
	for i, x := range r.results {
		labels[i] = x.target
	}
	return benchkit.AgainstDovecot("pop3", labels, func(i int) float64 {
		if st := r.results[i].st; st != nil {
			return st.downloadsPerSec()
		}
		return 0
	})
}
