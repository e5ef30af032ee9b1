// Command lmtp measures LMTP delivery throughput: it delivers the shared
// message corpus (shared/corpus/gen_mbox.py, 500 messages of about 19 KB by
// default) over LMTP to Quire on its embedded store, Quire on a Cassandra
// node and Dovecot 2.3 from Debian's packages (maildir), one target after
// the other in one run, and prints a Markdown table of messages/s,
// recipient deliveries/s, p50/p99 transaction latency, errors and the ratio
// of Quire's messages/s to Dovecot's.
//
// Each target runs two scenarios, 1 and 5 recipients per message, chosen
// round-robin from 20 users. C connections (-c, default 4) each say LHLO
// once and then deliver the whole corpus -rounds times, stopping early after
// -max-time. A transaction counts as delivered only when every recipient got
// 250. Every target starts from empty mailboxes; both scenarios share them.
//
// Run it from the repository root after make build:
//
//	go run ./bench/lmtp
//	go run ./bench/lmtp -targets embedded,dovecot -out bench/out/lmtp.md
//	QUIRE_BENCH_CASSANDRA=127.0.0.1:9042 go run ./bench/lmtp -targets cassandra,dovecot -pprof
//
// Quire runs as a subprocess of bin/quire with a config in a temp dir;
// Dovecot runs through scripts/dovecot.sh (which installs it if missing). The
// Cassandra target uses $QUIRE_BENCH_CASSANDRA, or scripts/cassandra.sh's
// node (started and stopped here if it is not running), with keyspaces of its
// own (quirebench_*), dropped at the start. Everything listens on 127.0.0.1;
// subprocesses are stopped on exit and on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	n, conns, rounds, users, dovecotPort int
	rcpts                                []int
	maxTime                              time.Duration
	targets                              []string
	out, quireBin                        string
	pprof                                bool
}

var allTargets = []string{"embedded", "cassandra", "dovecot"}

func main() {
	var o options
	var rcpts, targets string
	flag.IntVar(&o.n, "n", 500, "corpus size in messages")
	flag.IntVar(&o.conns, "c", 4, "concurrent LMTP connections")
	flag.IntVar(&o.rounds, "rounds", 1, "times each connection delivers the whole corpus")
	flag.DurationVar(&o.maxTime, "max-time", 120*time.Second, "time limit of one scenario")
	flag.IntVar(&o.users, "users", 20, "number of recipient users")
	flag.StringVar(&rcpts, "recipients", "1,5", "recipients per message, one scenario each")
	flag.StringVar(&targets, "targets", strings.Join(allTargets, ","), "targets to run: embedded, cassandra, dovecot")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	flag.IntVar(&o.dovecotPort, "dovecot-port", 12424, "Dovecot's LMTP port on 127.0.0.1")
	flag.BoolVar(&o.pprof, "pprof", false, "take a 20 s CPU profile of each quire target into bench/out/")
	flag.Parse()
	if err := o.check(rcpts, targets); err != nil {
		fmt.Fprintln(os.Stderr, "lmtp bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "lmtp bench:", err)
		os.Exit(1)
	}
}

func (o *options) check(rcpts, targets string) error {
	for _, f := range strings.Split(rcpts, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 || r > o.users {
			return fmt.Errorf("-recipients: %q is not a number from 1 to -users (%d)", f, o.users)
		}
		o.rcpts = append(o.rcpts, r)
	}
	for _, t := range strings.Split(targets, ",") {
		t = strings.TrimSpace(t)
		if !contains(allTargets, t) {
			return fmt.Errorf("-targets: unknown target %q (want %s)", t, strings.Join(allTargets, ", "))
		}
		o.targets = append(o.targets, t)
	}
	if o.n < 1 || o.conns < 1 || o.rounds < 1 || o.maxTime <= 0 {
		return errors.New("-n, -c, -rounds and -max-time must be positive")
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func run(ctx context.Context, o options) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(o.quireBin) {
		o.quireBin = filepath.Join(root, o.quireBin)
	}
	tmp, err := os.MkdirTemp("", "quire-bench-lmtp-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var cl cleanups
	defer cl.run()

	logf("generating a corpus of %d messages", o.n)
	c, err := loadCorpus(ctx, filepath.Join(root, "..", "shared"), o.n, tmp)
	if err != nil {
		return err
	}
	rep := &report{opts: o, corpus: c, root: root, load0: loadAvg()}
	for _, t := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.results = append(rep.results, runTarget(ctx, o, root, tmp, t, c, rep)...)
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	md := rep.markdown()
	fmt.Print(md)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(md), 0o644)
	}
	return nil
}

// runTarget starts one target, runs every scenario on it and stops it.
func runTarget(ctx context.Context, o options, root, tmp, name string, c *corpus, rep *report) []result {
	var cl cleanups
	defer cl.run()
	label := map[string]string{"embedded": "quire (embedded)", "cassandra": "quire (cassandra)", "dovecot": "dovecot (maildir)"}[name]
	logf("starting %s", label)
	var srv *server
	var err error
	switch name {
	case "dovecot":
		srv, err = startDovecot(root, o.dovecotPort, o.users, &cl)
	case "embedded":
		dir := filepath.Join(tmp, name)
		if err = os.MkdirAll(dir, 0o755); err == nil {
			srv, err = startQuire(ctx, o.quireBin, "embedded", "", o.users, dir, &cl)
		}
	case "cassandra":
		var addr string
		if addr, err = cassandraAddr(root, &cl); err == nil {
			dir := filepath.Join(tmp, name)
			if err = os.MkdirAll(dir, 0o755); err == nil {
				srv, err = startQuire(ctx, o.quireBin, "cassandra", addr, o.users, dir, &cl)
			}
		}
	}
	if err != nil {
		logf("%s: skipped: %v", label, err)
		rep.notes = append(rep.notes, fmt.Sprintf("%s skipped: %s", label, firstLine(err.Error())))
		return []result{{target: label, skipped: firstLine(err.Error())}}
	}
	if srv.note != "" {
		rep.notes = append(rep.notes, label+": "+srv.note)
	}
	profDone := make(chan string, 1)
	if o.pprof && srv.httpAddr != "" {
		path := filepath.Join(root, "bench", "out", fmt.Sprintf("lmtp-%s-%s.cpu.pprof", name, time.Now().Format("20060102-150405")))
		go func() { profDone <- profileCPU(ctx, srv.httpAddr, path) }()
	} else {
		profDone <- ""
	}
	var res []result
	for _, r := range o.rcpts {
		sc := scenario{conns: o.conns, rounds: o.rounds, rcpts: r, users: o.users, maxTime: o.maxTime, txTimeout: 60 * time.Second}
		logf("%s: %d connections × %d round(s), %d recipient(s) per message", label, o.conns, o.rounds, r)
		x := runLoad(ctx, srv.lmtpAddr, c, sc)
		x.target = label
		logf("%s: %d messages in %v: %.1f msgs/s, %d errors %s", label, x.msgs, x.elapsed.Round(time.Millisecond), x.msgsPerSec(), x.errors, x.firstErr)
		res = append(res, x)
		if ctx.Err() != nil {
			break
		}
	}
	if msg := <-profDone; msg != "" {
		logf("%s: %s", label, msg)
		rep.notes = append(rep.notes, label+": "+msg)
	}
	return res
}

// repoRoot finds the directory holding this module's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/quiremail/quire\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the quire repository")
		}
		dir = parent
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "lmtp bench: "+format+"\n", args...)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
