package main

import (
	"fmt"
	"strings"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// result is one row's run.
type result struct {
	row     row
	skipped string
	st      *stats
	rss     int64 // quire's RSS at the end, bytes; 0 for Dovecot
	note    string
}

// report renders the results with the facts needed to compare runs.
type report struct {
	opts    options
	facts   benchkit.Facts
	results []result
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.opts
	b.WriteString("## IMAP logins: Quire vs Dovecot\n\n")
	r.facts.Write(&b)
	fmt.Fprintf(&b, "- load: %d clients on %d users for %v per row; a session is connect, LOGIN, LOGOUT\n\n", o.clients, o.users, o.duration)
	b.WriteString("| row | password hash | logins | logins/s | LOGIN p50 / p99 | errors | quire RSS after |\n|---|---|---:|---:|---:|---:|---:|\n")
	var notes []string
	for _, x := range r.results {
		if x.skipped != "" {
			fmt.Fprintf(&b, "| %s | %s | | | | | skipped: %s |\n", x.row.label, x.row.scheme, x.skipped)
			continue
		}
		p50, p99 := x.st.login.P50P99()
		rss := ""
		if x.rss > 0 {
			rss = fmt.Sprintf("%d MB", x.rss/1e6)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.1f | %s / %s | %d | %s |\n", x.row.label, x.row.scheme, len(x.st.login), x.st.perSec(),
			benchkit.Ms(p50), benchkit.Ms(p99), x.st.errs, rss)
		if x.st.firstErr != "" {
			notes = append(notes, x.row.label+": first error: "+x.st.firstErr)
		}
		if x.note != "" {
			notes = append(notes, x.row.label+": "+x.note)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(&b, "\n- %s", n)
	}
	b.WriteString("\n")
	return b.String()
}
