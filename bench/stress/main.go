// Command stress runs a quire serve (embedded store, bleve index, the
// indexer on) under concurrent load on shared mailboxes, once per isc.mode
// ("immediate", then "deferred"), and fails if the server died, panicked,
// or answered inconsistently. It is the project's own version of the load
// that made imaptest find the indexer's catch-up panic (issue 15).
//
// The load, for -duration per mode: -clients IMAP sessions (default 10)
// logged in as -users users (default 2), so several sessions share each
// mailbox, each doing a random mix of APPEND, UID FETCH, UID STORE,
// EXPUNGE (of what it flagged \Deleted), UID MOVE between INBOX and Work,
// UID SEARCH BODY, IDLE and NOOP; and -lmtp LMTP clients (default 2)
// delivering to random users. Mailboxes stay small (about -keep messages):
// most messages are expunged soon after they arrive, while the indexer is
// still catching up on them, which is the race imaptest won.
//
// Every message carries a unique token in its body. The checks:
//
//   - during the load: no tagged BAD, no NO but [EXPUNGEISSUED] (a client
//     may name a message another one expunged), no broken connection, no
//     LMTP rejection; every FETCH's UIDs strictly ascending;
//   - after it: the process still runs and answers NOOP; its log has no
//     "panic" (recovered or not); every panics counter of GET
//     /server/statistics is 0; per mailbox, STATUS MESSAGES equals the
//     count of a FETCH 1:*, UIDs strictly ascending and below UIDNEXT;
//     once the indexer has caught up, UID SEARCH BODY of each message's
//     token finds exactly that message (up to -search-max messages per
//     mailbox).
//
// Everything binds 127.0.0.1. Run it from the repository root after make
// build:
//
//	go run ./bench/stress                    # 30 s per mode
//	go run ./bench/stress -duration 5m       # make stress-long
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("stress")

type options struct {
	clients, users, lmtp int
	duration             time.Duration
	keep                 int // mailboxes are trimmed back to about this many messages
	searchMax            int // messages per mailbox whose token the final check searches
	quireBin             string
	modes                []string
	seed                 uint64
}

func main() {
	var o options
	var modes string
	flag.IntVar(&o.clients, "clients", 10, "concurrent IMAP sessions")
	flag.IntVar(&o.users, "users", 2, "users; the sessions share their mailboxes")
	flag.IntVar(&o.lmtp, "lmtp", 2, "concurrent LMTP clients")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long the load runs, per mode")
	flag.IntVar(&o.keep, "keep", 20, "about how many messages a mailbox keeps; more are expunged")
	flag.IntVar(&o.searchMax, "search-max", 500, "messages per mailbox whose token the final check searches")
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	flag.StringVar(&modes, "modes", "immediate,deferred", "isc.mode values to run, in order")
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed of the clients")
	flag.Parse()
	o.modes = strings.Split(modes, ",")
	if err := o.check(); err != nil {
		fmt.Fprintln(os.Stderr, "stress:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed := false
	for _, m := range o.modes {
		res, err := run(ctx, o, m)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stress:", err)
			os.Exit(1)
		}
		fmt.Print(res.summary())
		failed = failed || len(res.violations) > 0
	}
	if failed {
		os.Exit(1)
	}
}

func (o options) check() error {
	if o.clients < 1 || o.clients > 500 || o.users < 1 || o.users > o.clients || o.lmtp < 0 || o.lmtp > 50 {
		return fmt.Errorf("-clients (1 to 500), -users (1 to -clients) and -lmtp (0 to 50) are out of range")
	}
	if o.duration <= 0 || o.duration > 2*time.Hour || o.keep < 1 || o.searchMax < 1 {
		return fmt.Errorf("-duration (up to 2h), -keep and -search-max must be positive")
	}
	for _, m := range o.modes {
		if m != "immediate" && m != "deferred" {
			return fmt.Errorf("-modes: %q is not an isc.mode (immediate, deferred)", m)
		}
	}
	return nil
}

// run starts a fresh server in mode, loads it and checks it.
func run(ctx context.Context, o options, mode string) (*result, error) {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(o.quireBin) {
		o.quireBin = filepath.Join(root, o.quireBin)
	}
	tmp, err := os.MkdirTemp("", "quire-stress-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var cl benchkit.Cleanups
	defer cl.Run()
	log.Printf("isc.mode = %q: starting quire serve", mode)
	t, err := benchkit.StartQuire(ctx, benchkit.QuireOptions{Bin: o.quireBin, DBType: "embedded", Users: o.users,
		Dir: tmp, MaxConns: 1000, Recheck: "2s", Extra: fmt.Sprintf("\n[isc]\nmode = %q\n", mode)}, &cl)
	if err != nil {
		return nil, err
	}
	res := &result{mode: mode, started: time.Now()}
	srv := &server{t: t, log: filepath.Join(tmp, "serve.log")}
	load(ctx, o, srv, res)
	log.Printf("isc.mode = %q: load done (%d operations); checking", mode, res.ops.Load())
	verify(ctx, o, srv, res)
	res.elapsed = time.Since(res.started)
	return res, nil
}
