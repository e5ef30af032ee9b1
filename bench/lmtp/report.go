package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// report renders the results with the facts needed to compare runs.
type report struct {
	opts    options
	corpus  *corpus
	root    string
	results []result
	notes   []string
	load0   string // load average when the run started
}

func (r *report) markdown() string {
	var b strings.Builder
	o := r.opts
	fmt.Fprintf(&b, "## LMTP delivery: Quire vs Dovecot\n\n")
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- machine: %s\n", machine())
	fmt.Fprintf(&b, "- load average (1/5/15 min): %s at the start, %s at the end\n", r.load0, loadAvg())
	fmt.Fprintf(&b, "- commit: %s\n", r.commit())
	fmt.Fprintf(&b, "- corpus: %d messages from shared/corpus/gen_mbox.py, average %.1f KB (CRLF)\n",
		len(r.corpus.wire), r.corpus.avgSize/1000)
	fmt.Fprintf(&b, "- load: %d connections, each delivering the corpus %d time(s), at most %v per scenario; recipients round-robin from %d users\n",
		o.conns, o.rounds, o.maxTime, o.users)
	fmt.Fprintf(&b, "- command: `%s`\n\n", command())

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
			x.target, x.rcpts, x.msgs, tb, x.msgsPerSec(), x.rcptPerSec(), ms(x.p50), ms(x.p99), x.errors, r.ratio(x))
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
	for _, d := range r.results {
		if strings.HasPrefix(d.target, "dovecot") && d.skipped == "" && d.rcpts == x.rcpts && d.msgs > 0 {
			return fmt.Sprintf("%.2f", x.msgsPerSec()/d.msgsPerSec())
		}
	}
	return "n/a"
}

func (r *report) anyErrors() bool {
	for _, x := range r.results {
		if x.firstErr != "" {
			return true
		}
	}
	return false
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// machine describes the CPUs and memory.
func machine() string {
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = ", " + strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "memory unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB memory", kb/(1<<20))
				}
			}
		}
	}
	return fmt.Sprintf("%d CPUs (nproc)%s, %s, %s/%s", runtime.NumCPU(), model, mem, runtime.GOOS, runtime.GOARCH)
}

func (r *report) commit() string {
	out, err := exec.Command("git", "-C", r.root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "none (no commit yet)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", r.root, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		c += " (work tree has uncommitted changes)"
	}
	return c
}

func command() string {
	parts := []string{"go run ./bench/lmtp"}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// loadAvg reads /proc/loadavg: other work on the machine skews the ratios.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
