//go:build quirefaults

package cassandra

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/storetest"
)

// faultEvery: one statement in faultEvery, at random, meets a fault.
const faultEvery = 100

// TestFaultConformance runs every conformance scenario under random faults
// of the path to the cluster (storetest.RunFaulted): lost replies, timeouts
// with nothing sent, unavailable replicas, and conditional writes held on
// a silent coordinator and run late, on about one statement in
// faultEvery. Each run draws its seeds at random, and logs them; a failure
// prints the seed that reproduces it (QUIRE_FAULT_SEED=n). QUIRE_FAULT_SEEDS
// sets how many seeds to run (default 1).
func TestFaultConformance(t *testing.T) {
	seeds := faultSeeds(t)
	var total storetest.FaultReport
	for _, seed := range seeds {
		t.Run("seed="+strconv.FormatUint(seed, 10), func(t *testing.T) {
			rf := &randomFaults{}
			// Every injected fault leaves a warning or two: only errors
			// are worth reading here.
			quiet := func(o *Options) {
				o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			}
			small := func(o *Options) {
				o.BucketSize = 32 // ManyCommits crosses several log buckets
				quiet(o)
			}
			rep := storetest.RunFaulted(t, storetest.Harness{
				New:     func(t *testing.T) store.Backend { return rf.add(openTest(t, small)) },
				Peer:    func(t *testing.T, _ store.Backend) store.Backend { return rf.add(openTest(t, small)) },
				Private: func(t *testing.T) store.Backend { return rf.add(openPrivate(t, quiet)) },
			}, storetest.FaultHarness{
				Seed:     seed,
				Arm:      rf.arm,
				Injected: func(msg string) bool { return strings.Contains(msg, "injected fault") },
			})
			t.Logf("seed %d: %d scenarios, %d faults injected, %d scenarios with an operation failed by one; "+
				"%d held conditional writes ran late, applied: %d commits, %d others",
				seed, rep.Scenarios, rep.Injections, rep.Failed,
				rf.held.ran.Load(), rf.held.commitsApplied.Load(), rf.held.othersApplied.Load())
			total.Scenarios += rep.Scenarios
			total.Injections += rep.Injections
			total.Failed += rep.Failed
		})
	}
	t.Logf("%d seeds: %d scenarios, %d faults injected, %d scenarios with an operation failed by one",
		len(seeds), total.Scenarios, total.Injections, total.Failed)
}

// faultSeeds returns the seeds to run: QUIRE_FAULT_SEED, or
// QUIRE_FAULT_SEEDS (default 1) drawn at random.
func faultSeeds(t *testing.T) []uint64 {
	if s := os.Getenv("QUIRE_FAULT_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("QUIRE_FAULT_SEED=%q: %v", s, err)
		}
		return []uint64{seed}
	}
	n := 1
	if s := os.Getenv("QUIRE_FAULT_SEEDS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("QUIRE_FAULT_SEEDS=%q: want a count", s)
		}
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = rand.Uint64() >> 1
	}
	t.Logf("fault seeds %v", seeds)
	return seeds
}

// randomFaults injects faults at random into the backends it is given,
// while it is armed.
type randomFaults struct {
	mu       sync.Mutex
	backends []*Backend
	armed    *armed
	held     heldCounts
}

// armed is one arming: statement k (counted across the backends, from
// 1) meets a fault decided by the seed and k alone, so a scenario that
// sends its statements in one order meets the same faults again.
type armed struct {
	seed uint64
	k    atomic.Int64
	mu   sync.Mutex
	done []string // the faults injected
	// release: for each backend holding statements (Held), the
	// statement number at which they run.
	release map[*Backend]int64
	held    *heldCounts
}

// injector returns the fault injector of one backend. A conditional
// write may be Held (queued on a silent coordinator): it runs late, just
// before a statement 1 to heldFor statements later (counted across the
// backends) that the same backend sends, or at disarm.
func (a *armed) injector(b *Backend) func(Statement) Fault {
	return func(s Statement) Fault {
		k := a.k.Add(1)
		a.mu.Lock()
		at, ok := a.release[b]
		due := ok && k >= at
		if due {
			delete(a.release, b)
		}
		a.mu.Unlock()
		if due {
			a.count(b.ReleaseHeld())
		}
		r := rand.New(rand.NewPCG(a.seed, uint64(k)))
		if r.IntN(faultEvery) != 0 {
			return Pass
		}
		f := []Fault{LostReply, NoResponse, Unavailable, Held}[r.IntN(4)]
		if f == Held && !s.CAS {
			f = NoResponse
		}
		a.mu.Lock()
		if f == Held {
			if _, ok := a.release[b]; !ok {
				a.release[b] = k + 1 + r.Int64N(heldFor)
			}
		}
		a.done = append(a.done, fmt.Sprintf("statement %d: %s: %s", k, f, firstWords(s.CQL, 12)))
		a.mu.Unlock()
		return f
	}
}

// heldFor bounds how many statements later a held one runs.
const heldFor = 40

// count adds what held statements did when they ran to the totals.
func (a *armed) count(rs []Released) {
	for _, r := range rs {
		a.held.ran.Add(1)
		if r.Applied && r.Statement.Commit() {
			a.held.commitsApplied.Add(1)
		} else if r.Applied {
			a.held.othersApplied.Add(1)
		}
	}
}

// heldCounts: how many held conditional writes ran late, and how many of
// them applied (commits: only one whose settling failed and was left to
// the uncertain-writes ledger may; others: a resend's first attempt).
type heldCounts struct {
	ran, commitsApplied, othersApplied atomic.Int64
}

func (rf *randomFaults) add(b *Backend) *Backend {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	rf.backends = append(rf.backends, b)
	if a := rf.armed; a != nil {
		b.SetFaults(Faults{Inject: a.injector(b)})
	}
	return b
}

func (rf *randomFaults) arm(seed uint64) (disarm func() []string) {
	a := &armed{seed: seed, release: map[*Backend]int64{}, held: &rf.held}
	rf.mu.Lock()
	rf.armed = a
	for _, b := range rf.backends {
		b.SetFaults(Faults{Inject: a.injector(b)})
	}
	rf.mu.Unlock()
	return func() []string {
		rf.mu.Lock()
		rf.armed = nil
		for _, b := range rf.backends {
			b.SetFaults(Faults{})
			// What is still queued runs now, before the checks.
			a.count(b.ReleaseHeld())
		}
		rf.mu.Unlock()
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.done
	}
}
