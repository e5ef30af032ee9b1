// Command search measures IMAP SEARCH on one large mailbox: it fills one
// user's INBOX with -messages messages of the shared corpus
// (bench/corpus/gen_mbox.py) over LMTP and times UID SEARCH for TEXT,
// BODY, SUBJECT and FROM, with one word and with two words (two keys,
// ANDed), on each target in one run:
//
//   - quire on its embedded store (bleve index, isc.mode = "deferred");
//   - quire on Cassandra with OpenSearch (deferred);
//   - Dovecot 2.3 from Debian's packages, maildir, without FTS;
//   - the same Dovecot with Debian's dovecot-fts-xapian (partial=3),
//     indexed with `doveadm index`.
//
// The report gives each query's p50 and p99 and its number of hits (so
// that differences in meaning show: Xapian matches words, IMAP
// substrings), indexing throughput (messages per second from the first
// delivery until the index holds every message) and index size per
// message. It also checks that every quire target finds a word that
// only an attachment holds, and asks Dovecot the same.
//
// Run it from the repository root after make build:
//
//	go run ./bench/search
//	go run ./bench/search -messages 20000 -targets embedded,dovecot -out bench/out/search.md
//
// Everything listens on 127.0.0.1; subprocesses are stopped on exit and
// on Ctrl-C. The Cassandra target uses $QUIRE_BENCH_CASSANDRA or
// scripts/cassandra.sh's node with keyspaces of its own (quirebench_*);
// OpenSearch is $QUIRE_BENCH_OPENSEARCH or scripts/opensearch.sh's node,
// with an index of its own (quirebench-msgs), deleted at the start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("search bench")

// targets of this benchmark, in report order.
var targetNames = []string{"embedded", "cassandra", "dovecot", "dovecot-xapian"}

func label(name string) string {
	switch name {
	case "embedded":
		return "quire (embedded, bleve)"
	case "cassandra":
		return "quire (cassandra, opensearch)"
	case "dovecot":
		return "dovecot (maildir, no FTS)"
	case "dovecot-xapian":
		return "dovecot (maildir, fts-xapian)"
	}
	return name
}

type options struct {
	messages, reps, conns int
	perQuery, settle      time.Duration
	targets               []string
	out, quireBin, ratios string
	pprof                 bool
	logLevel              string
	dovecot               benchkit.DovecotPorts
}

func main() {
	var o options
	var targets string
	flag.IntVar(&o.messages, "messages", 100000, "messages in the searched mailbox")
	flag.IntVar(&o.reps, "reps", 20, "times each query runs on each target (fewer when -per-query runs out)")
	flag.DurationVar(&o.perQuery, "per-query", 60*time.Second, "time budget of one query on one target")
	flag.DurationVar(&o.settle, "settle", 5*time.Minute, "longest wait, after indexing, for the CPUs to be at most 10% busy before the queries")
	flag.IntVar(&o.conns, "conns", 4, "LMTP connections filling the mailbox")
	flag.StringVar(&targets, "targets", strings.Join(targetNames, ","), "targets: "+strings.Join(targetNames, ", "))
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	benchkit.RatiosFlag(flag.CommandLine, &o.ratios)
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	flag.StringVar(&o.logLevel, "log-level", "info", "the quire targets' log.level (debug shows each indexing batch)")
	flag.BoolVar(&o.pprof, "pprof", false, "take a 20 s CPU profile of each quire target, while its queries run, into bench/out/")
	benchkit.DovecotFlags(flag.CommandLine, &o.dovecot)
	flag.Parse()
	for _, t := range strings.Split(targets, ",") {
		t = strings.TrimSpace(t)
		if label(t) == t {
			benchkit.Usage("search bench", fmt.Errorf("-targets: unknown target %q (want %s)", t, strings.Join(targetNames, ", ")))
		}
		o.targets = append(o.targets, t)
	}
	if o.messages < 1 || o.reps < 1 || o.conns < 1 || o.perQuery <= 0 {
		benchkit.Usage("search bench", errors.New("-messages, -reps, -conns and -per-query must be positive"))
	}
	benchkit.Main("search bench", o.quireBin, o.out, func(ctx context.Context, env benchkit.Env) (string, error) { return run(ctx, o, env) })
}

func run(ctx context.Context, o options, env benchkit.Env) (string, error) {
	log.Printf("generating a corpus of %d messages", o.messages)
	c, err := benchkit.LoadCorpus(ctx, env.Root, o.messages, env.Tmp)
	if err != nil {
		return "", err
	}
	c.Msgs = append(c.Msgs, attachmentProbe())
	rep := &report{opts: o, corpus: c, facts: benchkit.NewFacts(env.Root, "go run ./bench/search")}
	for _, t := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.results = append(rep.results, runTarget(ctx, o, env, t, c))
	}
	return rep.markdown(), rep.ratioFigures().Write(o.ratios)
}
