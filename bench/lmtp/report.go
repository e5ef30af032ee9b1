package main

import (
	"fmt"
	"strings"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// report renders the results with the facts needed to compare runs.
type report struct {
	opts    options
	corpus  *corpus
	facts   benchkit.Facts
	results []result
	notes   []string
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.opts
	fmt.Fprintf(&b, "## LMTP delivery: Quire vs Dovecot\n\n")
	r.facts.Write(&b)
	fmt.Fprintf(&b, "- corpus: %d messages from bench/corpus/gen_mbox.py, average %.1f KB (CRLF)\n",
		len(r.corpus.wire), r.corpus.avgSize/1000)
	fmt.Fprintf(&b, "- load: %d connections, each delivering the corpus %d time(s), at most %v per scenario; recipients round-robin from %d users\n",
		o.conns, o.rounds, o.maxTime, o.users)
	b.WriteString("\n")

	b.WriteString("| target | rcpts/msg | delivered msgs | msgs/s | rcpt deliveries/s | p50 | p99 | errors | ratio to Dovecot |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range r.results {
		if x.skipped != "" {
			fmt.Fprintf(&b, "| %s | | | | | | | | skipped |\n", x.target)
			continue
		}
		tb := ""
		if x.timeBound {
			tb = " (time limit)"
		}
		fmt.Fprintf(&b, "| %s | %d | %d%s | %.1f | %.1f | %s | %s | %d | %s |\n",
			x.target, x.rcpts, x.msgs, tb, x.msgsPerSec(), x.rcptPerSec(), benchkit.Ms(x.p50), benchkit.Ms(x.p99), x.errors, r.ratio(x))
	}
	if len(r.notes) > 0 || r.anyErrors() {
		b.WriteString("\n")
	}
	for _, n := range r.notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	for _, x := range r.results {
		if x.firstErr != "" {
			fmt.Fprintf(&b, "- %s, %d rcpt(s): first error: %s\n", x.target, x.rcpts, x.firstErr)
		}
	}
	return b.String()
}

// ratio is this row's msgs/s over Dovecot's in the same scenario.
func (r *report) ratio(x result) string {
	if d := r.dovecot(x.rcpts); d != nil {
		return fmt.Sprintf("%.2f", x.msgsPerSec()/d.msgsPerSec())
	}
	return "n/a"
}

// dovecot is Dovecot's result with rcpts recipients per message, if it ran.
func (r *report) dovecot(rcpts int) *result {
	for i, d := range r.results {
		if strings.HasPrefix(d.target, "dovecot") && d.skipped == "" && d.rcpts == rcpts && d.msgs > 0 {
			return &r.results[i]
		}
	}
	return nil
}

// ratios are each quire scenario's msgs/s over Dovecot's ("lmtp embedded
// 5 rcpt"); with the same recipients per message, that is the ratio of
// recipient deliveries too.
func (r *report) ratios() benchkit.Ratios {
	out := benchkit.Ratios{}
	for _, x := range r.results {
		if d := r.dovecot(x.rcpts); d != nil && x.skipped == "" && !strings.HasPrefix(x.target, "dovecot") {
			out.Add(fmt.Sprintf("lmtp %s %d rcpt", benchkit.Short(x.target), x.rcpts), x.msgsPerSec(), d.msgsPerSec())
		}
	}
	return out
}

func (r *report) anyErrors() bool {
	for _, x := range r.results {
		if x.firstErr != "" {
			return true
		}
	}
	return false
}
