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
	b.WriteString("## IMAP: Quire vs Dovecot\n\n")
	r.facts.Write(&b)
	fmt.Fprintf(&b, "- corpus: %d messages from bench/corpus/gen_mbox.py, average %.1f KB (CRLF); %d delivered to each INBOX first\n",
		len(r.corpus.Msgs), r.corpus.AvgSize/1000, o.preload)
	fmt.Fprintf(&b, "- load: %d clients on %d users for %v per target; a session is connect, LOGIN, SELECT, FETCH 1:* (UID FLAGS ENVELOPE), %d × UID FETCH BODY.PEEK[], UID STORE +FLAGS (\\Seen), APPEND, UID STORE +FLAGS.SILENT (\\Deleted), EXPUNGE, LOGOUT\n\n",
		o.clients, o.users, o.duration, bodiesPerSession)

	b.WriteString("| target | sessions | commands | commands/s | errors | ratio to Dovecot |\n|---|---:|---:|---:|---:|---:|\n")
	for _, x := range r.results {
		if x.skipped != "" {
			fmt.Fprintf(&b, "| %s | | | | | skipped |\n", x.target)
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f | %d | %s |\n", x.target, x.st.sessions, x.st.commands(), x.st.perSec(), x.st.errors(), r.ratio(x))
	}
	// -via-proxy: the same host measured directly, through the proxy,
	// and directly again.
	for i, x := range r.results {
		if !strings.HasSuffix(x.target, " via quire proxy") || x.st == nil || i == 0 || i+1 >= len(r.results) ||
			r.results[i-1].st == nil || r.results[i+1].st == nil {
			continue
		}
		a, b2 := r.results[i-1].st.perSec(), r.results[i+1].st.perSec()
		d := (a + b2) / 2
		fmt.Fprintf(&b, "\nThe proxy's cost: %.1f %% of the commands/s (%.1f through quire proxy against %.1f directly, the mean of %.1f before and %.1f after, on the same host).\n",
			100*(1-x.st.perSec()/d), x.st.perSec(), d, a, b2)
	}
	b.WriteString("\nLatency per command, p50 / p99 (connect is TCP plus greeting, not counted as a command):\n\n")
	var outs []benchkit.Outcome
	for _, x := range r.results {
		o := benchkit.Outcome{Label: x.target}
		if x.st != nil {
			o.Lat, o.FirstErr = x.st.lat, x.st.firstErr
		}
		outs = append(outs, o)
	}
	benchkit.ReportTail(&b, "command", commands, outs, r.notes)
	return b.String()
}

// ratio is this row's commands/s over Dovecot's.
func (r *report) ratio(x result) string {
	if d := r.dovecot(); d != nil {
		return fmt.Sprintf("%.2f", x.st.perSec()/d.st.perSec())
	}
	return "n/a"
}

// dovecot is Dovecot's result, if it ran.
func (r *report) dovecot() *result {
	for i, d := range r.results {
		if strings.HasPrefix(d.target, "dovecot") && d.st != nil && d.st.commands() > 0 {
			return &r.results[i]
		}
	}
	return nil
}

// ratios are each quire target's commands/s over Dovecot's ("imap embedded").
func (r *report) ratios() benchkit.Ratios {
	labels := make([]string, len(r.results))
	for i, x := range r.results {
		labels[i] = x.target
	}
	return benchkit.AgainstDovecot("imap", labels, func(i int) float64 {
		if st := r.results[i].st; st != nil {
			return st.perSec()
		}
		return 0
	})
}
