// Command pop3 measures POP3 message downloads per second: C clients
// (-clients, default 20) run sessions back to back for -duration, client i
// as user i of -users (default 20); each session logs in (USER, PASS), asks
// STAT and UIDL, RETRs -retr random messages and quits without deleting.
// It runs against quire on its embedded store, quire on a Cassandra node and
// Dovecot 2.3 from Debian's packages (maildir), one after the other in one
// run, after filling every maildrop over LMTP with -preload messages of the
// shared corpus (bench/corpus/gen_mbox.py).
//
// Run it from the repository root after make build:
//
//	go run ./bench/pop3
//	go run ./bench/pop3 -targets embedded,dovecot -duration 60s -out bench/out/pop3.md
//
// Targets start as for bench/imap (see bench/internal/benchkit).
package main

import (
	"context"
	"errors"
	"flag"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("pop3 bench")

type options struct {
	clients, users, preload, n, retr int
	duration                         time.Duration
	targets                          []string
	out, quireBin, ratios            string
	pprof                            bool
	dovecot                          benchkit.DovecotPorts
}

func main() {
	var o options
	var targets string
	flag.IntVar(&o.clients, "clients", 20, "concurrent POP3 clients")
	flag.IntVar(&o.users, "users", 20, "number of users; client i is user i mod users")
	flag.IntVar(&o.preload, "preload", 100, "messages delivered to each maildrop before the clients start")
	flag.IntVar(&o.retr, "retr", 10, "RETR commands per session")
	flag.IntVar(&o.n, "n", 500, "corpus size in messages")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long the clients run on each target")
	flag.StringVar(&targets, "targets", strings.Join(benchkit.TargetNames, ","), "targets to run: embedded, cassandra, dovecot")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	benchkit.RatiosFlag(flag.CommandLine, &o.ratios)
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	flag.BoolVar(&o.pprof, "pprof", false, "take a 20 s CPU profile of each quire target into bench/out/")
	benchkit.DovecotFlags(flag.CommandLine, &o.dovecot)
	flag.Parse()
	var err error
	if o.targets, err = benchkit.ParseTargets(targets); err != nil {
		benchkit.Usage("pop3 bench", err)
	}
	if o.clients < 1 || o.users < 1 || o.preload < 1 || o.n < 1 || o.retr < 1 || o.duration <= 0 {
		benchkit.Usage("pop3 bench", errors.New("-clients, -users, -preload, -n, -retr and -duration must be positive"))
	}
	benchkit.Main("pop3 bench", o.quireBin, o.out, func(ctx context.Context, env benchkit.Env) (string, error) { return run(ctx, o, env) })
}

func run(ctx context.Context, o options, env benchkit.Env) (string, error) {
	root, tmp := env.Root, env.Tmp
	o.quireBin = env.Bin
	log.Printf("generating a corpus of %d messages", o.n)
	c, err := benchkit.LoadCorpus(ctx, root, o.n, tmp)
	if err != nil {
		return "", err
	}
	rep := &report{opts: o, corpus: c, facts: benchkit.NewFacts(root, "go run ./bench/pop3")}
	for _, t := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.results = append(rep.results, runTarget(ctx, o, root, tmp, t, c, rep))
	}
	return rep.markdown(), rep.ratios().Write(o.ratios)
}

// result is one target's run.
type result struct {
	target  string
	skipped string
	st      *stats
}

// runTarget starts one target, fills it, runs the clients and stops it.
func runTarget(ctx context.Context, o options, root, tmp, name string, c *benchkit.Corpus, rep *report) result {
	var cl benchkit.Cleanups
	defer cl.Run()
	label := benchkit.Label(name)
	log.Printf("starting %s", label)
	srv, err := benchkit.Setup{Root: root, Bin: o.quireBin, Tmp: tmp, Users: o.users, Dovecot: o.dovecot}.Start(ctx, name, &cl)
	if skip := benchkit.Ready(ctx, log, label, srv, err, c, o.users, o.preload, &rep.notes); skip != "" {
		return result{target: label, skipped: skip}
	}
	profDone := benchkit.StartProfile(ctx, o.pprof, root, "pop3", name, srv)
	log.Printf("%s: %d clients for %v", label, o.clients, o.duration)
	l := load{addr: srv.POP3, clients: o.clients, users: o.users, retr: o.retr, duration: o.duration, timeout: 60 * time.Second}
	st := l.run(ctx)
	log.Printf("%s: %d sessions, %d downloads, %.1f downloads/s, %d errors %s", label, st.sessions, st.downloads(), st.downloadsPerSec(), st.errors(), st.firstErr)
	if msg := <-profDone; msg != "" {
		rep.notes = append(rep.notes, label+": "+msg)
	}
	return result{target: label, st: st}
}
