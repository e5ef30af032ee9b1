// Command imap measures IMAP throughput and latency with a mix like
// imaptest's default profile: each session connects, logs in, selects
// INBOX, fetches the envelopes of every message, fetches two whole messages,
// sets \Seen on one, appends one, deletes and expunges the oldest and logs
// out. C clients (-clients, default 20) run sessions back to back for
// -duration, client i as user i of -users (default 20), against quire on its
// embedded store, quire on a Cassandra node and Dovecot 2.3 from Debian's
// packages (maildir), one target after the other in one run.
//
// Before the clients start, every user's INBOX is filled over LMTP with
// -preload messages of the shared corpus (bench/corpus/gen_mbox.py), so
// every target serves the same mail. The report gives commands per second
// with the ratio to Dovecot's, and p50/p99 per command.
//
// With -large N it runs the large-mailbox scenario instead (large.go): N
// messages in one INBOX, then SELECT, NOOP after 1,000 deliveries, FETCH
// 1:* (FLAGS) and UID SEARCH UNSEEN, with the server's RSS (make
// bench-imap-large).
//
// With -via-proxy the cassandra target's one host is measured three times
// in the same run: directly, with its clients carried by a quire proxy in
// front of it, and directly again, for the proxy's cost (docs/DEPLOY.md).
//
// Run it from the repository root after make build:
//
//	go run ./bench/imap
//	go run ./bench/imap -targets embedded,dovecot -duration 60s -out bench/out/imap.md
//
// Quire runs as a subprocess of bin/quire with a config in a temp dir;
// Dovecot runs through scripts/dovecot.sh (which installs it if missing).
// The Cassandra target uses $QUIRE_BENCH_CASSANDRA or scripts/cassandra.sh's
// node (started and stopped here if it is not running), with keyspaces of
// its own (quirebench_*), dropped at the start. Everything listens on
// 127.0.0.1; subprocesses are stopped on exit and on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("imap bench")

type options struct {
	clients, users, preload, n int
	large                      int // messages of the large-mailbox scenario; 0: the mix
	hosts                      int // access hosts for the cassandra target
	duration                   time.Duration
	targets                    []string
	out, quireBin, ratios      string
	pprof                      bool
	viaProxy                   bool // the cassandra target's clients go through quire proxy
	dovecot                    benchkit.DovecotPorts
}

func main() {
	var o options
	var targets string
	flag.IntVar(&o.clients, "clients", 20, "concurrent IMAP clients")
	flag.IntVar(&o.users, "users", 20, "number of users; client i is user i mod users")
	flag.IntVar(&o.preload, "preload", 100, "messages delivered to each INBOX before the clients start")
	flag.IntVar(&o.n, "n", 500, "corpus size in messages")
	flag.IntVar(&o.hosts, "hosts", 1, "access hosts of the cassandra target, in one store affinity group on 127.0.0.2, .3, ...")
	flag.IntVar(&o.large, "large", 0, "run the large-mailbox scenario instead of the mix: this many messages in one INBOX (large.go)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long the clients run on each target")
	flag.StringVar(&targets, "targets", strings.Join(benchkit.TargetNames, ","), "targets to run: embedded, cassandra, dovecot")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	benchkit.RatiosFlag(flag.CommandLine, &o.ratios)
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	flag.BoolVar(&o.pprof, "pprof", false, "take a 20 s CPU profile of each quire target into bench/out/")
	flag.BoolVar(&o.viaProxy, "via-proxy", false, "measure the cassandra target's one host directly, through quire proxy, and directly again")
	benchkit.DovecotFlags(flag.CommandLine, &o.dovecot)
	flag.Parse()
	var err error
	if o.targets, err = benchkit.ParseTargets(targets); err != nil {
		benchkit.Usage("imap bench", err)
	}
	if o.clients < 1 || o.users < 1 || o.preload < 1 || o.n < 1 || o.duration <= 0 {
		benchkit.Usage("imap bench", errors.New("-clients, -users, -preload, -n and -duration must be positive"))
	}
	benchkit.Main("imap bench", o.quireBin, o.out, func(ctx context.Context, env benchkit.Env) (string, error) { return run(ctx, o, env) })
}

func run(ctx context.Context, o options, env benchkit.Env) (string, error) {
	root, tmp := env.Root, env.Tmp
	o.quireBin = env.Bin
	log.Printf("generating a corpus of %d messages", o.n)
	c, err := benchkit.LoadCorpus(ctx, root, o.n, tmp)
	if err != nil {
		return "", err
	}
	if o.large > 0 {
		return runLarge(ctx, o, env, c)
	}
	rep := &report{opts: o, corpus: c, facts: benchkit.NewFacts(root, "go run ./bench/imap")}
	for _, t := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.results = append(rep.results, runTarget(ctx, o, root, tmp, t, c, rep)...)
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
func runTarget(ctx context.Context, o options, root, tmp, name string, c *benchkit.Corpus, rep *report) []result {
	var cl benchkit.Cleanups
	defer cl.Run()
	label := benchkit.Label(name)
	log.Printf("starting %s", label)
	var srv *benchkit.Target
	var err error
	addrs := []string{}
	if name == "cassandra" && o.hosts > 1 {
		// Several access hosts in one group on one Cassandra (issue 5):
		// clients spread over them, all serving the same users.
		label = fmt.Sprintf("quire (cassandra, %d hosts)", o.hosts)
		var casAddr string
		if casAddr, err = benchkit.CassandraAddr(root, &cl); err == nil {
			var hosts []*benchkit.Target
			hosts, err = benchkit.StartGroup(ctx, benchkit.GroupOptions{Bin: o.quireBin, CasAddr: casAddr,
				Dir: filepath.Join(tmp, "group"), Hosts: o.hosts, Users: o.users}, &cl)
			if err == nil {
				srv = hosts[0]
				for _, h := range hosts {
					addrs = append(addrs, h.IMAP)
				}
			}
		}
	} else {
		srv, err = o.setup(root, tmp).Start(ctx, name, &cl)
		if err == nil {
			addrs = []string{srv.IMAP}
		}
	}
	if skip := benchkit.Ready(ctx, log, label, srv, err, c, o.users, o.preload, &rep.notes); skip != "" {
		return []result{{target: label, skipped: skip}}
	}
	out := []result{measure(ctx, o, root, name, label, srv, nil, addrs, c, rep)}
	if name == "cassandra" && o.viaProxy && o.hosts <= 1 && ctx.Err() == nil {
		// The proxy's cost (issue 17): the same host, measured again
		// with its clients carried by quire proxy, then directly once
		// more; CPU per command stays the host's.
		label += " via quire proxy"
		casAddr, err := benchkit.CassandraAddr(root, &cl)
		var px *benchkit.Target
		if err == nil {
			px, err = benchkit.StartProxy(ctx, o.quireBin, filepath.Join(tmp, "proxy"), casAddr, srv, &cl)
		}
		if err != nil {
			return append(out, result{target: label, skipped: err.Error()})
		}
		out = append(out, measure(ctx, o, root, name, label, srv, px, []string{px.IMAP}, c, rep))
		// Direct again (A B A): what moved between the first two (the
		// fill's compactions, the rest of the machine) shows here.
		out = append(out, measure(ctx, o, root, name, out[0].target+" again", srv, nil, addrs, c, rep))
	}
	return out
}

// measure runs the clients against addrs, srv's or its proxy px's (nil:
// none); with -pprof both srv and px are profiled.
func measure(ctx context.Context, o options, root, name, label string, srv, px *benchkit.Target, addrs []string, c *benchkit.Corpus, rep *report) result {
	profDone := benchkit.StartProfile(ctx, o.pprof, root, "imap", name, srv)
	pxDone := benchkit.StartProfile(ctx, o.pprof && px != nil, root, "imap", name+"-proxy", px)
	log.Printf("%s: %d clients for %v", label, o.clients, o.duration)
	l := load{addrs: addrs, clients: o.clients, users: o.users, duration: o.duration, msgs: c.Msgs, timeout: 60 * time.Second}
	cpu0 := srv.CPU()
	st := l.run(ctx)
	log.Printf("%s: %d sessions, %d commands, %.1f commands/s, %d errors %s", label, st.sessions, st.commands(), st.perSec(), st.errors(), st.firstErr)
	if cpu := benchkit.CPUPer(cpu0, srv.CPU(), int64(st.commands()), "command"); cpu != "" {
		log.Printf("%s: %s", label, cpu)
		rep.notes = append(rep.notes, label+": "+cpu)
	}
	if msg := <-profDone; msg != "" {
		rep.notes = append(rep.notes, label+": "+msg)
	}
	if msg := <-pxDone; msg != "" {
		rep.notes = append(rep.notes, label+", the proxy: "+msg)
	}
	return result{target: label, st: st}
}

func (o options) setup(root, tmp string) benchkit.Setup {
	return benchkit.Setup{Root: root, Bin: o.quireBin, Tmp: tmp, Users: o.users, Dovecot: o.dovecot}
}
