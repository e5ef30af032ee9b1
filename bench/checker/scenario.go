package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// Scenarios: what goes wrong while the clients run. host-kill works on any
// Cassandra; the others need the cluster of scripts/cassandra-cluster.sh
// (three nodes of one data center, keyspaces at RF 3, every class at
// LOCAL_QUORUM falling back to LOCAL_ONE).
const (
	scenHostKill  = "host-kill" // SIGKILL one quire host halfway, start it again
	scenNodeKill  = "node-kill" // SIGKILL one Cassandra node, start it again
	scenTwoDown   = "two-down"  // SIGKILL two of the three nodes, start them again, repair
	scenPartition = "partition" // SIGSTOP one node (alive but silent), SIGCONT it
)

var scenarios = []string{scenHostKill, scenNodeKill, scenTwoDown, scenPartition}

func clusterScenario(s string) bool { return s != scenHostKill }

// clusterStore is the [store] placement and consistency of the hosts on
// the cluster: examples/access-host.toml's levels (every class at
// LOCAL_QUORUM falling back to LOCAL_ONE; reads to readFallback, "" for
// none), with a short request timeout so that a silent node costs
// seconds, not tens of seconds.
//
// The store reads at LOCAL_ONE only when that very read was refused at
// LOCAL_QUORUM, and makes commits and what snapshots combine at a quorum
// whatever the write fallback (internal/store/cassandra, fallback.go and
// Backend.durable); before that, two-down failed once a node that missed
// writes returned and served LOCAL_ONE reads (docs/BENCHMARKS.md).
func clusterStore(readFallback string) string {
	return fmt.Sprintf(clusterStoreFmt, readFallback)
}

const clusterStoreFmt = `casreplicationstrategy = "NetworkTopologyStrategy"
casmetadc = "dc1"
casmetarf = 3
casmsgdc = "dc1"
casmsgrf = 3
cascachedc = "dc1"
cascacherf = 3
casreadconsistency = "LOCAL_QUORUM"
casreadfallbackconsistency = %q
caswriteconsistency = "LOCAL_QUORUM"
caswritefallbackconsistency = "LOCAL_ONE"
casdeleteconsistency = "LOCAL_QUORUM"
casdeletefallbackconsistency = "LOCAL_ONE"
casserialconsistency = "LOCAL_SERIAL"
casrequesttimeout = "5s"
`

// progress counts what the clients got done, to show that the service
// went on through a disruption.
type progress struct {
	ok     atomic.Int64 // operations that did not fail
	acked  atomic.Int64 // messages acknowledged (delivered or appended)
	synced atomic.Int64 // mailbox views checked (SELECT and FETCH)
}

type counts struct{ ok, acked, synced int64 }

func (p *progress) now() counts { return counts{p.ok.Load(), p.acked.Load(), p.synced.Load()} }

func (c counts) minus(d counts) counts {
	return counts{c.ok - d.ok, c.acked - d.acked, c.synced - d.synced}
}

func (c counts) String() string {
	return fmt.Sprintf("%d operations succeeded, %d messages acknowledged, %d mailbox views checked", c.ok, c.acked, c.synced)
}

// cluster drives the nodes of scripts/cassandra-cluster.sh.
type cluster struct {
	root   string
	points []string
}

func (c *cluster) script(args ...string) error {
	return benchkit.Script(c.root, nil, append([]string{"cassandra-cluster.sh"}, args...)...)
}

// nodetool runs nodetool against node n with its output going to the log.
func (c *cluster) nodetool(n int, args ...string) error {
	return c.script(append([]string{"nodetool", strconv.Itoa(n)}, args...)...)
}

// startNode starts node n again and returns how long it took to serve.
func (c *cluster) startNode(n int) (time.Duration, error) {
	t0 := time.Now()
	err := c.script("start", strconv.Itoa(n))
	return time.Since(t0).Round(time.Second), err
}

// disruption runs one scenario's disruption while the clients run, and
// returns when it is over. It notes what it did in res and what the
// scenario itself requires (the service going on, the fallback switches)
// in bad.
type disruption struct {
	o     options
	cl    *cluster // nil for host-kill
	hosts []*benchkit.Target
	hist  *history
	prog  *progress
	res   *result
	bad   *violations
}

func (d *disruption) event(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	log.Printf("%s", msg)
	d.hist.note(-1, msg)
	d.res.events = append(d.res.events, msg)
}

// sleep waits for t or the end of ctx.
func sleep(ctx context.Context, t time.Duration) error {
	select {
	case <-time.After(t):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *disruption) run(ctx context.Context) error {
	switch d.o.scenario {
	case scenHostKill:
		return d.hostKill(ctx)
	case scenNodeKill:
		return d.nodeKill(ctx)
	case scenTwoDown:
		return d.twoDown(ctx)
	case scenPartition:
		return d.partition(ctx)
	}
	return fmt.Errorf("unknown scenario %q", d.o.scenario)
}

func (d *disruption) hostKill(ctx context.Context) error {
	if !d.o.kill || len(d.hosts) < 2 {
		return nil
	}
	if err := sleep(ctx, d.o.duration/2); err != nil {
		return err
	}
	victim := d.hosts[1]
	log.Printf("killing the host at %s with SIGKILL", victim.IMAP)
	d.hist.note(-1, "SIGKILL host "+victim.IMAP)
	if err := victim.Kill(); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	if err := victim.Restart(ctx); err != nil {
		return fmt.Errorf("restart after SIGKILL: %w", err)
	}
	d.res.killed = fmt.Sprintf("host %s killed with SIGKILL at %v, listening again %v after its restart",
		victim.IMAP, (d.o.duration / 2).Round(time.Second), time.Since(t0).Round(time.Millisecond))
	d.hist.note(-1, "restarted host "+victim.IMAP)
	return nil
}

// begin waits a quarter of the run, then runs the script's verb-node
// pairs (kill 2, pause 2, ...), notes what it did, and returns the
// clients' progress from just before.
func (d *disruption) begin(ctx context.Context, what string, verbNode ...string) (counts, error) {
	if err := sleep(ctx, d.o.duration/4); err != nil {
		return counts{}, err
	}
	before := d.prog.now()
	for i := 0; i+1 < len(verbNode); i += 2 {
		if err := d.cl.script(verbNode[i], verbNode[i+1]); err != nil {
			return counts{}, err
		}
	}
	d.event("%s", what)
	return before, nil
}

// outage is how long a disruption lasts before the nodes are started again
// (or resumed).
const outage = 15 * time.Second

// nodeKill: one of three nodes crashes; LOCAL_QUORUM still has two
// replicas, so the service goes on at the primary level, and no class may
// switch to its fallback: a timeout (a Paxos round that a rejoining node
// leaves short of answers) is an unknown outcome, not a lack of replicas.
func (d *disruption) nodeKill(ctx context.Context) error {
	before, err := d.begin(ctx, "cassandra node 2 killed with SIGKILL", "kill", "2")
	if err != nil {
		return err
	}
	if err := sleep(ctx, outage); err != nil {
		return err
	}
	took, err := d.cl.startNode(2)
	if err != nil {
		return err
	}
	down := d.prog.now().minus(before)
	d.event("cassandra node 2 serving again %v after its restart; while it was down: %v", took, down)
	if down.acked == 0 || down.synced == 0 {
		d.bad.add("scenario %s: the service stopped while one node of three was down (%v)", d.o.scenario, down)
	}
	d.fallbackSpans("while one node of three was down or rejoining")
	return nil
}

// fallbackSpans notes how often and how long the hosts ran a query class
// on its fallback level, and requires that none did: a quorum of replicas
// was alive throughout.
func (d *disruption) fallbackSpans(when string) {
	n, longest, open := 0, time.Duration(0), 0
	for _, h := range d.hosts {
		spans, unclosed := degradedSpans(h)
		n += len(spans)
		open += unclosed
		for _, s := range spans {
			longest = max(longest, s)
		}
	}
	d.event("%s: %d switches of a query class to LOCAL_ONE (the longest %v), %d not switched back",
		when, n, longest.Round(time.Millisecond), open)
	if n+open > 0 {
		d.bad.add("scenario %s: %d switches of a query class to its fallback level (%d not switched back) with a quorum alive",
			d.o.scenario, n+open, open)
	}
}

var logTimeRE = regexp.MustCompile(`^time=(\S+) .*(switching to fallback consistency|primary consistency restored)" class=(\w+)`)

// degradedSpans reads a host's log for the spans from a switch to the
// fallback level to the switch back, per class, and counts the switches
// not switched back.
func degradedSpans(h *benchkit.Target) (spans []time.Duration, unclosed int) {
	b, err := os.ReadFile(h.LogFile)
	if err != nil {
		return nil, 0
	}
	since := map[string]time.Time{}
	for _, l := range strings.Split(string(b), "\n") {
		m := logTimeRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			continue
		}
		if m[2] == "switching to fallback consistency" {
			since[m[3]] = t
		} else if s, ok := since[m[3]]; ok {
			spans = append(spans, t.Sub(s))
			delete(since, m[3])
		}
	}
	return spans, len(since)
}

// twoDown: two of three nodes crash. LOCAL_QUORUM cannot be met: writes
// switch to LOCAL_ONE and probe the primary (50 ms doubling to 60 s), and
// each read (with -read-fallback) is refused at LOCAL_QUORUM and served at
// LOCAL_ONE; a commit, one Paxos round at LOCAL_SERIAL, needs two
// replicas whatever the level, and the writes it consists of are made at
// a quorum, so deliveries are refused (not acknowledged) until a second
// node is back. The plain writes of the fallback level (subscriptions,
// index marks, ...) are on the node that stayed up; repairAndCompare
// finds them on every replica. A probe, or any write at LOCAL_QUORUM,
// switches back once two nodes serve.
func (d *disruption) twoDown(ctx context.Context) error {
	before, err := d.begin(ctx, "cassandra nodes 2 and 3 killed with SIGKILL", "kill", "2", "kill", "3")
	if err != nil {
		return err
	}
	if err := sleep(ctx, outage); err != nil {
		return err
	}
	down := d.prog.now().minus(before)
	d.event("with two nodes of three down for %v: %v", outage, down)
	if d.o.readFallback != "" && down.synced == 0 {
		d.bad.add("scenario %s: no mailbox could be read with two nodes down (reads should fall back to LOCAL_ONE)", d.o.scenario)
	}
	var back time.Time
	for _, n := range []int{2, 3} {
		took, err := d.cl.startNode(n)
		if err != nil {
			return err
		}
		if back.IsZero() {
			back = time.Now() // two replicas of three: LOCAL_QUORUM again
		}
		d.event("cassandra node %d serving again %v after its restart", n, took)
	}
	// The probes switch every degraded class back; the wait between them
	// has doubled up to about a minute by now.
	deadline := back.Add(90 * time.Second)
	for {
		pending := 0
		for _, h := range d.hosts {
			_, open := degradedSpans(h)
			pending += open
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			d.bad.add("scenario %s: %d query classes still on the fallback level %v after the nodes returned", d.o.scenario, pending, time.Since(back).Round(time.Second))
			break
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
	d.event("every host back at LOCAL_QUORUM by %v after node 2 returned", time.Since(back).Round(time.Second))
	var switches, probes, restores int
	var waits []string
	for _, h := range d.hosts {
		switches += countLog(h, `switching to fallback consistency" class=write`)
		restores += countLog(h, `primary consistency restored" class=write`)
		w := probeWaits(h, "write")
		probes += len(w)
		if len(w) > len(waits) {
			waits = w
		}
	}
	d.event("write class: %d switches to LOCAL_ONE, %d failed probes, %d switches back; probe waits on one host: %s",
		switches, probes, restores, strings.Join(waits, " "))
	if switches == 0 || restores == 0 || probes == 0 {
		d.bad.add("scenario %s: the hosts' logs do not show the write class switching to its fallback, probing and switching back", d.o.scenario)
	}
	return nil
}

// partition: one node is alive but silent (SIGSTOP): its connections stay
// open and nothing answers, until the failure detector and the driver's
// timeouts route around it. Those timeouts switch no class to its
// fallback: a quorum is alive.
func (d *disruption) partition(ctx context.Context) error {
	before, err := d.begin(ctx, "cassandra node 2 paused with SIGSTOP", "pause", "2")
	if err != nil {
		return err
	}
	err = sleep(ctx, outage)
	if rerr := d.cl.script("resume", "2"); rerr != nil {
		return rerr
	}
	if err != nil {
		return err
	}
	down := d.prog.now().minus(before)
	d.event("cassandra node 2 resumed with SIGCONT after %v; while it was silent: %v", outage, down)
	if down.acked == 0 || down.synced == 0 {
		d.bad.add("scenario %s: the service stopped while one node of three was silent (%v)", d.o.scenario, down)
	}
	d.fallbackSpans("while one node of three was silent")
	return nil
}

// countLog counts the lines of a host's log that contain s.
func countLog(h *benchkit.Target, s string) int {
	b, err := os.ReadFile(h.LogFile)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), s)
}

var probeRE = regexp.MustCompile(`next_probe_in=(\S+)`)

// probeWaits lists the waits logged after each failed probe of class.
func probeWaits(h *benchkit.Target, class string) []string {
	b, err := os.ReadFile(h.LogFile)
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `primary consistency still unavailable" class=`+class+" ") {
			if m := probeRE.FindStringSubmatch(l); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}
