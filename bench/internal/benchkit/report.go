package benchkit

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Percentile returns the p-quantile (0 < p <= 1) of sorted latencies, by
// the nearest-rank method; 0 when there are none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Latencies collects one operation's latencies.
type Latencies []time.Duration

// P50P99 sorts l and returns its median and 99th percentile.
func (l Latencies) P50P99() (time.Duration, time.Duration) {
	slices.Sort(l)
	return Percentile(l, 0.50), Percentile(l, 0.99)
}

// Ms formats d in milliseconds with one decimal.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// Facts are what every report states before its table, so that runs can be
// compared: when, where, on what load and commit, with which command.
type Facts struct {
	Root  string // the repository, for the commit
	Prog  string // e.g. "go run ./bench/imap"
	Load0 string // LoadAvg at the start of the run
}

// NewFacts records the start of a run.
func NewFacts(root, prog string) Facts {
	return Facts{Root: root, Prog: prog, Load0: LoadAvg()}
}

// Write prints the facts as Markdown list items.
func (f Facts) Write(w io.Writer) {
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- machine: %s\n", machine())
	fmt.Fprintf(w, "- load average (1/5/15 min): %s at the start, %s at the end\n", f.Load0, LoadAvg())
	fmt.Fprintf(w, "- commit: %s\n", commit(f.Root))
	fmt.Fprintf(w, "- command: `%s`\n", command(f.Prog))
}

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

func commit(root string) string {
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "none (no commit yet)"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", root, "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		c += " (work tree has uncommitted changes)"
	}
	return c
}

func command(prog string) string {
	parts := []string{prog}
	for _, a := range os.Args[1:] {
		if strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// LoadAvg reads /proc/loadavg: other work on the machine skews the ratios.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
