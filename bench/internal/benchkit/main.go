package benchkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// Env is what every benchmark run starts from: the repository, a scratch
// directory (removed after the run) and the quire binary.
type Env struct{ Root, Tmp, Bin string }

// Main runs a benchmark's run function under a context that Ctrl-C and
// SIGTERM cancel, prints the Markdown report it returns and writes it to
// out when out is not empty. On failure it prints the error and exits
// with status 1. quireBin is relative to the repository root unless
// absolute.
func Main(name, quireBin, out string, run func(ctx context.Context, env Env) (string, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := func() error {
		root, err := RepoRoot()
		if err != nil {
			return err
		}
		if !filepath.IsAbs(quireBin) {
			quireBin = filepath.Join(root, quireBin)
		}
		tmp, err := os.MkdirTemp("", "quire-"+strings.ReplaceAll(name, " ", "-")+"-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		md, err := run(ctx, Env{Root: root, Tmp: tmp, Bin: quireBin})
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return errors.New("interrupted")
		}
		fmt.Print(md)
		if out != "" {
			// bench/out is not in the repository: a fresh clone has none.
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return err
			}
			return os.WriteFile(out, []byte(md), 0o644)
		}
		return nil
	}()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// Usage reports a bad flag and exits with status 2.
func Usage(name string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(2)
}

// Column is one target's latencies, for LatencyTable.
type Column struct {
	Label string
	Lat   map[string]Latencies
}

// LatencyTable writes a Markdown table of p50 / p99, one row per name.
func LatencyTable(b *strings.Builder, first string, rows []string, cols []Column) {
	fmt.Fprintf(b, "| %s |", first)
	for _, c := range cols {
		fmt.Fprintf(b, " %s |", c.Label)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(cols)) + "\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %s |", r)
		for _, c := range cols {
			p50, p99 := c.Lat[r].P50P99()
			fmt.Fprintf(b, " %s / %s |", Ms(p50), Ms(p99))
		}
		b.WriteString("\n")
	}
}

// Outcome is one target's run as the shared report parts see it.
type Outcome struct {
	Label    string
	Lat      map[string]Latencies // nil when the target was skipped
	FirstErr string
}

// ReportTail writes a report's latency table (rows in order) for the targets
// that ran, then the notes and each target's first error.
func ReportTail(b *strings.Builder, first string, rows []string, outs []Outcome, notes []string) {
	var cols []Column
	for _, o := range outs {
		if o.Lat != nil {
			cols = append(cols, Column{Label: o.Label, Lat: o.Lat})
		}
	}
	LatencyTable(b, first, rows, cols)
	if len(notes) > 0 {
		b.WriteString("\n")
	}
	for _, n := range notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
	for _, o := range outs {
		if o.FirstErr != "" {
			fmt.Fprintf(b, "- %s: first error: %s\n", o.Label, o.FirstErr)
		}
	}
}
