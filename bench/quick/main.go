// Command quick runs the quick benchmark set that guards the defaults: LMTP
// delivery (1 and 5 recipients), the IMAP command mix, POP3 downloads, idle
// IMAP memory and SEARCH on a 5,000-message mailbox, each against quire on
// its embedded store as `make run` configures it and Dovecot from Debian's
// packages in the same run. It writes one report with every sub-report and
// a table of the ratios against their targets, and exits 1 when a ratio is
// below its target: a ratio that drops is a bug, so the benchmark fails
// loudly.
//
// Every change to delivery, sessions, the store or indexing runs it before
// its issue is resolved (docs/BENCHMARKS.md). It takes about ten minutes on
// two cores:
//
//	make build && go run ./bench/quick
//	go run ./bench/quick -only lmtp,imap -out bench/out/quick.md
//
// Each benchmark is built once into a scratch directory and run from the
// repository root with its own flags (the steps below); their reports and
// ratio files go to -dir.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// step is one benchmark of the set, with the flags that make it quick.
type step struct {
	name string
	args []string
}

// steps run in this order; Dovecot and quire take turns inside each.
var steps = []step{
	{"lmtp", []string{"-targets", "embedded,dovecot", "-recipients", "1,5", "-max-time", "60s"}},
	{"imap", []string{"-targets", "embedded,dovecot", "-duration", "20s"}},
	{"pop3", []string{"-targets", "embedded,dovecot", "-duration", "20s"}},
	{"imapidle", []string{"-targets", "embedded,dovecot", "-conns", "2000", "-dovecot-conns", "200"}},
	{"search", []string{"-targets", "embedded,dovecot", "-messages", "5000", "-reps", "10", "-per-query", "15s", "-settle", "60s"}},
}

// target is the smallest ratio a figure may have: the names are prefixes
// of the ratio names the benchmarks write (benchkit.Ratios), and the most
// specific prefix wins.
type target struct {
	prefix string
	min    float64
	why    string
}

// targets are the promises of docs/BENCHMARKS.md, on the embedded store.
var targets = []target{
	{"lmtp embedded 1 rcpt", 3, "issue 16: 1 rcpt at least 3x Dovecot"},
	{"lmtp embedded 5 rcpt", 8, "issue 16: 5 rcpt at least 8x Dovecot (recipient deliveries/s)"},
	{"imap embedded", 3, "issue 16: IMAP mix at least 3x Dovecot"},
	{"pop3 embedded", 1.5, "issue 4: POP3 at least 1.5x Dovecot"},
	{"imapidle embedded", 10, "an idle connection costs a tenth of Dovecot's (PSS) or less"},
	{"search embedded/dovecot ", 10, "issue 6: every query at least 10x Dovecot without FTS"},
}

func main() {
	var out, dir, only string
	flag.StringVar(&out, "out", "bench/out/quick.md", "the combined Markdown report")
	flag.StringVar(&dir, "dir", "bench/out/quick", "where each benchmark's report and ratios go")
	flag.StringVar(&only, "only", "", "run only these benchmarks (comma-separated names: lmtp, imap, pop3, imapidle, search)")
	flag.Parse()
	run := steps
	if only != "" {
		run = nil
		for _, n := range strings.Split(only, ",") {
			i := slices.IndexFunc(steps, func(s step) bool { return s.name == strings.TrimSpace(n) })
			if i < 0 {
				benchkit.Usage("quick bench", fmt.Errorf("-only: unknown benchmark %q", n))
			}
			run = append(run, steps[i])
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	missed, err := quick(ctx, run, out, dir)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "quick bench: %v\n", err)
		os.Exit(1)
	}
	if missed > 0 {
		fmt.Fprintf(os.Stderr, "quick bench: %d ratio(s) below target; see %s\n", missed, out)
		os.Exit(1)
	}
}

// quick runs the steps, writes the combined report and returns how many
// ratios missed their targets.
func quick(ctx context.Context, run []step, out, dir string) (int, error) {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return 0, err
	}
	if _, err := os.Stat(filepath.Join(root, "bin", "quire")); err != nil {
		return 0, errors.New("bin/quire is missing: run make build first")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	tmp, err := os.MkdirTemp("", "quire-quick-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	facts := benchkit.NewFacts(root, "go run ./bench/quick")
	all := benchkit.Ratios{}
	var reports, failures []string
	for _, s := range run {
		if ctx.Err() != nil {
			return 0, errors.New("interrupted")
		}
		md, r, err := runStep(ctx, root, tmp, dir, s)
		if err != nil {
			// One benchmark failing still reports the others.
			failures = append(failures, fmt.Sprintf("%s: %v", s.name, err))
			fmt.Fprintf(os.Stderr, "quick bench: %s failed: %v\n", s.name, err)
			continue
		}
		reports = append(reports, md)
		for k, v := range r {
			all[k] = v
		}
	}
	var b strings.Builder
	b.WriteString("# Quick benchmark set: quire (embedded, default config) against Dovecot\n\n")
	facts.Write(&b)
	fmt.Fprintf(&b, "- took %v\n\n", time.Since(start).Round(time.Second))
	ran := map[string]bool{}
	for _, s := range run {
		ran[s.name] = true
	}
	missed := summary(&b, all, ran)
	for _, f := range failures {
		fmt.Fprintf(&b, "- **failed**: %s\n", f)
	}
	for _, md := range reports {
		b.WriteString("\n" + md)
	}
	fmt.Print(b.String())
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	if len(failures) > 0 {
		return missed, fmt.Errorf("%d benchmark(s) failed: %s", len(failures), strings.Join(failures, "; "))
	}
	return missed, nil
}

// runStep builds and runs one benchmark, and returns its report and ratios.
func runStep(ctx context.Context, root, tmp, dir string, s step) (string, benchkit.Ratios, error) {
	bin := filepath.Join(tmp, "bench-"+s.name)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/"+s.name)
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", nil, fmt.Errorf("build: %w", err)
	}
	md := filepath.Join(dir, s.name+".md")
	ratios := filepath.Join(dir, s.name+".ratios.json")
	_ = os.Remove(ratios)
	args := append(slices.Clone(s.args), "-out", md, "-ratios", ratios)
	fmt.Fprintf(os.Stderr, "quick bench: %s %s\n", s.name, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, nil, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", nil, err
	}
	report, err := os.ReadFile(md)
	if err != nil {
		return "", nil, err
	}
	r, err := benchkit.ReadRatios(ratios)
	if err != nil {
		return "", nil, err
	}
	return string(report), r, nil
}

// summary writes the ratios table and returns how many are below target,
// counting a target of a benchmark that ran but gave no figure (Dovecot
// or quire skipped) as missed.
func summary(b *strings.Builder, all benchkit.Ratios, ran map[string]bool) int {
	names := make([]string, 0, len(all))
	for k := range all {
		names = append(names, k)
	}
	sort.Strings(names)
	b.WriteString("| figure | quire ÷ Dovecot | target | |\n|---|---:|---:|---|\n")
	missed := 0
	for _, n := range names {
		t, ok := targetOf(n)
		mark, want := "", "–"
		if ok {
			want = fmt.Sprintf("≥ %.1f", t.min)
			mark = "met"
			if all[n] < t.min {
				mark = "**missed** (" + t.why + ")"
				missed++
			}
		}
		fmt.Fprintf(b, "| %s | %.2f | %s | %s |\n", n, all[n], want, mark)
	}
	for _, t := range targets {
		bench, _, _ := strings.Cut(t.prefix, " ")
		if ran[bench] && !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, t.prefix) }) {
			fmt.Fprintf(b, "| %s | not measured | ≥ %.1f | **missed** |\n", strings.TrimSpace(t.prefix), t.min)
			missed++
		}
	}
	return missed
}

// targetOf is the target with the longest prefix of name.
func targetOf(name string) (target, bool) {
	var best target
	for _, t := range targets {
		if strings.HasPrefix(name, t.prefix) && len(t.prefix) > len(best.prefix) {
			best = t
		}
	}
	return best, best.prefix != ""
}
