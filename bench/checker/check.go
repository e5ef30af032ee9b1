package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// history writes every command and response, one line each, prefixed with
// the time and the client.
type history struct {
	mu sync.Mutex
	w  *bufio.Writer
	f  *os.File
}

func (h *history) line(client int, dir, l string) {
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.w, "%s c%d %s %s\n", time.Now().Format("15:04:05.000000"), client, dir, l)
}

func (h *history) note(client int, l string) { h.line(client, "#", l) }

// violations collects what broke an invariant.
type violations struct {
	mu   sync.Mutex
	list []string
}

func (v *violations) add(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.list) < 1000 {
		v.list = append(v.list, fmt.Sprintf(format, args...))
	}
}

// result is the outcome of one run.
type result struct {
	o          options
	ops, errs  int
	tokens     int // acknowledged messages checked at the end
	uncertain  int
	killed     string
	events     []string // what a cluster scenario did, and what it saw
	violations []string
	history    string
	dir        string // the hosts' configs and logs: kept if the run fails
	elapsed    time.Duration
}

func (r *result) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "checker: scenario %s: %d hosts, %d clients, %d users, %v (seed %d)\n", r.o.scenario, r.o.hosts, r.o.clients, r.o.users, r.elapsed.Round(time.Second), r.o.seed)
	fmt.Fprintf(&b, "checker: %d operations (%d failed or refused), %d acknowledged messages checked, %d of unknown outcome\n",
		r.ops, r.errs, r.tokens, r.uncertain)
	if r.killed != "" {
		fmt.Fprintf(&b, "checker: %s\n", r.killed)
	}
	for _, e := range r.events {
		fmt.Fprintf(&b, "checker: %s\n", e)
	}
	fmt.Fprintf(&b, "checker: history in %s\n", r.history)
	if len(r.violations) == 0 {
		b.WriteString("checker: PASS: no invariant broken\n")
		return b.String()
	}
	fmt.Fprintf(&b, "checker: the hosts' configs and logs are kept in %s\n", r.dir)
	fmt.Fprintf(&b, "checker: FAIL: %d violation(s):\n", len(r.violations))
	for i, v := range r.violations {
		if i == 50 {
			fmt.Fprintf(&b, "  ... and %d more\n", len(r.violations)-50)
			break
		}
		fmt.Fprintf(&b, "  - %s\n", v)
	}
	return b.String()
}

// check runs the clients against the hosts for o.duration, and the
// scenario's disruption meanwhile (the clients go on until it is over,
// and at least tail after), then verifies the quiet store.
func check(ctx context.Context, o options, hosts []*benchkit.Target, cl *cluster) (*result, error) {
	f, err := os.Create(o.history)
	if err != nil {
		return nil, err
	}
	hist := &history{w: bufio.NewWriterSize(f, 1<<20), f: f}
	defer func() {
		hist.mu.Lock()
		hist.w.Flush()
		hist.mu.Unlock()
		f.Close()
	}()
	res := &result{o: o, history: o.history}
	bad := &violations{}
	lmtps := make([]string, len(hosts))
	for i, h := range hosts {
		lmtps[i] = h.LMTP
	}
	run := fmt.Sprintf("%x", o.seed&0xffffff)
	prog := &progress{}
	clients := make([]*client, o.clients)
	for i := range clients {
		clients[i] = &client{id: i, run: run, user: benchkit.User(i%o.users + 1), imap: hosts[i%len(hosts)].IMAP, lmtp: lmtps,
			rnd: rand.New(rand.NewPCG(o.seed, uint64(i))), log: hist, bad: bad,
			tokens: map[string]map[string]int{}, uncertain: map[string]bool{}, lostMB: map[string]bool{},
			seen: map[string]*view{}, maxUID: map[string]uint32{}, prog: prog}
	}
	start := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); c.loop(runCtx) }()
	}
	d := &disruption{o: o, cl: cl, hosts: hosts, hist: hist, prog: prog, res: res, bad: bad}
	if err := d.run(runCtx); err != nil {
		cancel()
		wg.Wait()
		return nil, err
	}
	end := start.Add(o.duration)
	if clusterScenario(o.scenario) {
		// The service must be seen to go on after the disruption.
		tail := d.prog.now()
		end = later(end, time.Now().Add(tailTime))
		_ = sleep(runCtx, time.Until(end))
		after := d.prog.now().minus(tail)
		d.event("after the disruption: %v", after)
		if after.acked == 0 {
			bad.add("scenario %s: no message was acknowledged after the disruption ended", o.scenario)
		}
	} else {
		_ = sleep(runCtx, time.Until(end))
	}
	cancel()
	wg.Wait()
	res.elapsed = time.Since(start)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	for _, c := range clients {
		res.ops += c.ops
		res.errs += c.errs
	}
	log.Printf("clients stopped after %v; verifying from every host", res.elapsed.Round(time.Millisecond))
	if err := verify(o, hosts, clients, bad, res); err != nil {
		return nil, err
	}
	if o.scenario == scenTwoDown {
		if err := repairAndCompare(cl, res, bad); err != nil {
			return nil, err
		}
	}
	bad.mu.Lock()
	res.violations = slices.Clone(bad.list)
	bad.mu.Unlock()
	return res, nil
}

// tailTime is how long the clients go on after a cluster scenario's
// disruption is over.
const tailTime = 15 * time.Second

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
