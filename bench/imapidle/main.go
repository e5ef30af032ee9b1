// Command imapidle measures what an idle IMAP connection costs a server:
// it opens -conns connections (default 5,000 for quire, -dovecot-conns 500
// for Dovecot, whose one process per connection would not fit 5,000 in
// this machine's memory), each logged in as one of -users users, with
// INBOX selected and IDLE running, and reports the server's memory growth
// per connection. Then it delivers one message to every user over LMTP and
// reports how many idling connections saw the new message within 1 s, and
// when the last one did, which proves the connections were alive and not
// just parked.
//
// Memory per connection is the growth of resident memory between two
// measurements, after the first tenth of the connections and after all of
// them, each after a garbage collection (quire) and a pause: VmRSS of the
// quire process, and for Dovecot both the sum of VmRSS over its processes
// and the sum of their PSS (shared pages divided among the processes that
// share them), the fairer figure for a server of many processes.
//
// Run it from the repository root after make build:
//
//	go run ./bench/imapidle
//	go run ./bench/imapidle -targets embedded,dovecot -conns 5000 -dovecot-conns 500 -out bench/out/imapidle.md
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("imapidle bench")

type options struct {
	conns, dovecotConns, users, preload, parallel int
	settle                                        time.Duration
	targets                                       []string
	out, quireBin, ratios                         string
	dovecot                                       benchkit.DovecotPorts
}

func main() {
	var o options
	var targets string
	flag.IntVar(&o.conns, "conns", 5000, "idle connections to quire")
	flag.IntVar(&o.dovecotConns, "dovecot-conns", 500, "idle connections to Dovecot (each costs it a process)")
	flag.IntVar(&o.users, "users", 20, "users; connection i logs in as user i mod users")
	flag.IntVar(&o.preload, "preload", 20, "messages in each INBOX before the connections open")
	flag.IntVar(&o.parallel, "parallel", 50, "connections being opened at once")
	flag.DurationVar(&o.settle, "settle", 5*time.Second, "wait after the last IDLE before measuring memory")
	flag.StringVar(&targets, "targets", "embedded,dovecot", "targets to run: embedded, cassandra, dovecot")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	benchkit.RatiosFlag(flag.CommandLine, &o.ratios)
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	benchkit.DovecotFlags(flag.CommandLine, &o.dovecot)
	flag.Parse()
	var err error
	if o.targets, err = benchkit.ParseTargets(targets); err != nil {
		benchkit.Usage("imapidle bench", err)
	}
	if o.conns < 1 || o.dovecotConns < 1 || o.users < 1 || o.preload < 1 || o.parallel < 1 {
		benchkit.Usage("imapidle bench", errors.New("-conns, -dovecot-conns, -users, -preload and -parallel must be positive"))
	}
	benchkit.Main("imapidle bench", o.quireBin, o.out, func(ctx context.Context, env benchkit.Env) (string, error) { return run(ctx, o, env) })
}

func run(ctx context.Context, o options, env benchkit.Env) (string, error) {
	root, tmp := env.Root, env.Tmp
	o.quireBin = env.Bin
	c, err := benchkit.LoadCorpus(ctx, root, 100, tmp)
	if err != nil {
		return "", err
	}
	rep := &report{opts: o, facts: benchkit.NewFacts(root, "go run ./bench/imapidle")}
	for _, t := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.results = append(rep.results, runTarget(ctx, o, root, tmp, t, c))
	}
	return rep.markdown(), rep.ratios().Write(o.ratios)
}

// result is one target's measurement.
type result struct {
	target, skipped string
	conns           int
	opened          int           // connections that reached IDLE
	opened0         int           // of which at the first measurement
	openTime        time.Duration // to open them all
	rss0, rss1      int64         // at the first and the second measurement
	pss0, pss1      int64         // Dovecot only
	go0, go1        int64         // quire only: Go heap and stacks in use
	woken           int           // connections that saw the delivery within 1 s
	lastWake        time.Duration // when the last connection saw it
	firstErr        string
}

func runTarget(ctx context.Context, o options, root, tmp, name string, c *benchkit.Corpus) result {
	var cl benchkit.Cleanups
	defer cl.Run()
	label := benchkit.Label(name)
	res := result{target: label, conns: o.conns}
	if name == "dovecot" {
		res.conns = o.dovecotConns
	}
	log.Printf("starting %s", label)
	setup := benchkit.Setup{Root: root, Bin: o.quireBin, Tmp: tmp, Users: o.users, Dovecot: o.dovecot, MaxConns: o.conns + 100}
	srv, err := setup.Start(ctx, name, &cl)
	if err == nil {
		err = benchkit.Fill(ctx, srv.LMTP, c, o.users, o.preload, 4)
	}
	var pids func() ([]int, error)
	if err == nil {
		pids, err = serverPIDs(root, name, srv)
	}
	if err != nil {
		log.Printf("%s: skipped: %v", label, err)
		res.skipped = benchkit.FirstLine(err.Error())
		return res
	}
	// Memory is measured twice, after the first tenth of the connections
	// and after all of them, each time after a garbage collection and a
	// pause: the growth between the two is what the other nine tenths
	// cost, free of start-up and of the garbage the fill left behind.
	first := max(res.conns/10, 1)
	log.Printf("%s: opening %d IDLE connections", label, res.conns)
	t0 := time.Now()
	idlers, err := openIdlers(ctx, srv.IMAP, 0, first, o.users, o.parallel)
	defer func() {
		for _, x := range idlers {
			x.close()
		}
	}()
	if err == nil {
		res.opened0 = len(idlers)
		if res.rss0, res.pss0, res.go0, err = settled(ctx, srv, pids, o.settle); err == nil {
			var more []idler
			more, err = openIdlers(ctx, srv.IMAP, first, res.conns, o.users, o.parallel)
			idlers = append(idlers, more...)
		}
	}
	res.openTime, res.opened = time.Since(t0), len(idlers)
	if err != nil {
		res.firstErr = err.Error()
		log.Printf("%s: %d of %d connections idle; first error: %v", label, len(idlers), res.conns, err)
	}
	if res.rss1, res.pss1, res.go1, err = settled(ctx, srv, pids, o.settle); err != nil {
		res.skipped = err.Error()
		return res
	}
	log.Printf("%s: %d idle connections; memory %d → %d bytes", label, res.opened, res.rss0, res.rss1)
	res.woken, res.lastWake, err = wake(ctx, srv.LMTP, c, o.users, idlers)
	if err != nil && res.firstErr == "" {
		res.firstErr = err.Error()
	}
	log.Printf("%s: %d of %d woken within 1 s, last after %v", label, res.woken, res.opened, res.lastWake.Round(time.Millisecond))
	return res
}

// serverPIDs returns a function listing the target's processes: quire's
// one, or the private Dovecot's master and all its descendants.
func serverPIDs(root, name string, t *benchkit.Target) (func() ([]int, error), error) {
	if name != "dovecot" {
		return func() ([]int, error) { return []int{t.PID}, nil }, nil
	}
	b, err := os.ReadFile(filepath.Join(root, "run", "dovecot", "base", "master.pid"))
	if err != nil {
		return nil, fmt.Errorf("dovecot's master.pid: %w", err)
	}
	var master int
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &master); err != nil {
		return nil, fmt.Errorf("dovecot's master.pid: %w", err)
	}
	return func() ([]int, error) { return benchkit.ProcessTree(master) }, nil
}

// settled pauses, then asks quire (POST /debug/memory/free) to collect
// garbage and give free pages back to the OS, and measures memory. For
// quire it also returns the Go runtime's heap and stack in use.
func settled(ctx context.Context, t *benchkit.Target, pids func() ([]int, error), pause time.Duration) (rss, pss, goMem int64, err error) {
	select {
	case <-time.After(pause):
	case <-ctx.Done():
		return 0, 0, 0, ctx.Err()
	}
	if t.HTTP != "" {
		req, err := t.AdminRequest(ctx, "POST", "/debug/memory/free")
		if err != nil {
			return 0, 0, 0, fmt.Errorf("free memory: %w", err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("free memory: %w", err)
		}
		var m map[string]int64
		err = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return 0, 0, 0, fmt.Errorf("free memory: %s: %v", resp.Status, err)
		}
		goMem = m["heap_inuse"] + m["stack_inuse"]
	}
	rss, pss, err = memory(pids)
	return rss, pss, goMem, err
}

// memory sums VmRSS and PSS over the processes.
func memory(pids func() ([]int, error)) (rss, pss int64, err error) {
	list, err := pids()
	if err != nil {
		return 0, 0, err
	}
	for _, p := range list {
		r, err := benchkit.RSS(p)
		if err != nil {
			continue // a process that exited meanwhile
		}
		rss += r
		if s, err := benchkit.PSS(p); err == nil {
			pss += s
		}
	}
	return rss, pss, nil
}
