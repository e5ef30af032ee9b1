// Command lmtp measures LMTP delivery throughput: it delivers the shared
// message corpus (bench/corpus/gen_mbox.py, 500 messages of about 19 KB by
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
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

type options struct {
	n, conns, rounds, users int
	rcpts                   []int
	maxTime                 time.Duration
	targets                 []string
	out, quireBin, ratios   string
	pprof                   bool
	dovecot                 benchkit.DovecotPorts
}

func main() {
	var o options
	var rcpts, targets string
	flag.IntVar(&o.n, "n", 500, "corpus size in messages")
	flag.IntVar(&o.conns, "c", 4, "concurrent LMTP connections")
	flag.IntVar(&o.rounds, "rounds", 1, "times each connection delivers the whole corpus")
	flag.DurationVar(&o.maxTime, "max-time", 120*time.Second, "time limit of one scenario")
	flag.IntVar(&o.users, "users", 20, "number of recipient users")
	flag.StringVar(&rcpts, "recipients", "1,5", "recipients per message, one scenario each")
	flag.StringVar(&targets, "targets", strings.Join(benchkit.TargetNames, ","), "targets to run: embedded, cassandra, dovecot")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	benchkit.RatiosFlag(flag.CommandLine, &o.ratios)
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	benchkit.DovecotFlags(flag.CommandLine, &o.dovecot)
	flag.BoolVar(&o.pprof, "pprof", false, "take a 20 s CPU profile of each quire target into bench/out/")
	flag.Parse()
	if err := o.check(rcpts, targets); err != nil {
		benchkit.Usage("lmtp bench", err)
	}
	benchkit.Main("lmtp bench", o.quireBin, o.out, func(ctx context.Context, env benchkit.Env) (string, error) { return run(ctx, o, env) })
}

func (o *options) check(rcpts, targets string) error {
	for _, f := range strings.Split(rcpts, ",") {
		r, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || r < 1 || r > o.users {
			return fmt.Errorf("-recipients: %q is not a number from 1 to -users (%d)", f, o.users)
		}
		o.rcpts = append(o.rcpts, r)
	}
	var err error
	if o.targets, err = benchkit.ParseTargets(targets); err != nil {
		return err
	}
	if o.n < 1 || o.conns < 1 || o.rounds < 1 || o.maxTime <= 0 {
		return errors.New("-n, -c, -rounds and -max-time must be positive")
	}
	return nil
}

func run(ctx context.Context, o options, env benchkit.Env) (string, error) {
	root, tmp := env.Root, env.Tmp
	o.quireBin = env.Bin
	log.Printf("generating a corpus of %d messages", o.n)
	c, err := loadCorpus(ctx, root, o.n, tmp)
	if err != nil {
		return "", err
	}
	rep := &report{opts: o, corpus: c, facts: benchkit.NewFacts(root, "go run ./bench/lmtp")}
	for _, t := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.results = append(rep.results, runTarget(ctx, o, root, tmp, t, c, rep)...)
	}
	return rep.markdown(), rep.ratios().Write(o.ratios)
}

// runTarget starts one target, runs every scenario on it and stops it.
func runTarget(ctx context.Context, o options, root, tmp, name string, c *corpus, rep *report) []result {
	var cl benchkit.Cleanups
	defer cl.Run()
	label := benchkit.Label(name)
	log.Printf("starting %s", label)
	srv, err := benchkit.Setup{Root: root, Bin: o.quireBin, Tmp: tmp, Users: o.users, Dovecot: o.dovecot}.Start(ctx, name, &cl)
	if err != nil {
		log.Printf("%s: skipped: %v", label, err)
		rep.notes = append(rep.notes, fmt.Sprintf("%s skipped: %s", label, benchkit.FirstLine(err.Error())))
		return []result{{target: label, skipped: benchkit.FirstLine(err.Error())}}
	}
	if srv.Note != "" {
		rep.notes = append(rep.notes, label+": "+srv.Note)
	}
	// Each target starts on a quiet machine (at most a minute's wait): the
	// one before may leave work behind (the page cache's writeback,
	// compactions), which must not count against the next. The note says
	// what the wait found.
	if waited, busy, err := benchkit.WaitQuiet(ctx, 0.10, 3*time.Second, time.Minute); err == nil {
		rep.notes = append(rep.notes, fmt.Sprintf("%s: scenarios started %v after the start, the CPUs %.0f%% busy over the last 3 s", label, waited.Round(time.Second), 100*busy))
	}
	profDone := benchkit.StartProfile(ctx, o.pprof, root, "lmtp", name, srv)
	var res []result
	for _, r := range o.rcpts {
		sc := scenario{conns: o.conns, rounds: o.rounds, rcpts: r, users: o.users, maxTime: o.maxTime, txTimeout: 60 * time.Second}
		log.Printf("%s: %d connections × %d round(s), %d recipient(s) per message", label, o.conns, o.rounds, r)
		cpu0 := srv.CPU()
		sync0, ok0 := storeSyncs(ctx, srv)
		x := runLoad(ctx, srv.LMTP, c, sc)
		sync1, ok1 := storeSyncs(ctx, srv)
		x.target = label
		log.Printf("%s: %d messages in %v: %.1f msgs/s, %d errors %s", label, x.msgs, x.elapsed.Round(time.Millisecond), x.msgsPerSec(), x.errors, x.firstErr)
		if cpu := benchkit.CPUPer(cpu0, srv.CPU(), int64(x.rcptOK), "recipient delivery"); cpu != "" {
			log.Printf("%s, %d rcpt: %s", label, r, cpu)
			rep.notes = append(rep.notes, fmt.Sprintf("%s, %d rcpt: %s, indexing that overlapped the run included", label, r, cpu))
		}
		if s := perSync(sync0, ok0, sync1, ok1, x.rcptOK); s != "" {
			log.Printf("%s, %d rcpt: %s", label, r, s)
			rep.notes = append(rep.notes, fmt.Sprintf("%s, %d rcpt: %s (the search index keeps its own files: not counted)", label, r, s))
		}
		res = append(res, x)
		if ctx.Err() != nil {
			break
		}
	}
	if srv.TokenFile != "" { // quire: how far the index lagged behind
		var delivered int64
		for _, x := range res {
			delivered += int64(x.rcptOK)
		}
		lag := indexLag(ctx, srv, delivered)
		log.Printf("%s: %s", label, lag)
		rep.notes = append(rep.notes, label+": "+lag)
	}
	if msg := <-profDone; msg != "" {
		log.Printf("%s: %s", label, msg)
		rep.notes = append(rep.notes, label+": "+msg)
	}
	return res
}

const log = benchkit.Logger("lmtp bench")
