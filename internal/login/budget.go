package login

import (
	"container/list"
	"context"
	"runtime"
	"runtime/metrics"
	"sync"
)

// Budget bounds the memory that password checks hold at once
// (login.hash_memory), counting each check's allocation until the garbage
// collector has reclaimed it, not only while the check runs: a check takes
// the bytes its hash's parameters say (directory.VerifyMemory), and when it
// ends they stay charged as garbage until a collection cycle that started
// after the release has finished. Without that, the Go heap grows to twice
// what was live at the last cycle before reclaiming anything, and a burst
// of checks raises RSS well past the budget.
//
// Requests that do not fit wait in arrival order, so a large one is not
// starved by small ones. When the front waiter is blocked by garbage alone,
// the Budget starts one collection (runtime.GC) rather than wait for the
// runtime's own. It is safe for concurrent use.
type Budget struct {
	size    int64
	collect func()        // forces a full collection; runtime.GC
	cycles  func() uint64 // collection cycles completed so far
	mu      struct {
		sync.Mutex
		live       int64
		garbage    list.List // of garbage, oldest first
		garbageSum int64
		seq        uint64    // of the last garbage released
		collecting bool      // a forced collection is under way
		waiting    list.List // of *budgetWaiter, oldest first
	}
}

// garbage is the memory of a finished check, not yet known to be reclaimed.
type garbage struct {
	n     int64
	cycle uint64 // cycles completed when it was released
	seq   uint64
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes were taken for the waiter
}

// NewBudget returns a Budget of size bytes; size < 1 is taken as 1.
func NewBudget(size int64) *Budget {
	sample := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	var mu sync.Mutex
	return &Budget{size: max(size, 1), collect: runtime.GC, cycles: func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0 // never reclaims on its own; forced collections still do
		}
		return sample[0].Value.Uint64()
	}}
}

// Size returns the budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// Waiting returns how many checks wait for memory now.
func (b *Budget) Waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.waiting.Len()
}

// Acquire takes n bytes, waiting until they are free or ctx is done; it
// returns the function that gives them back (call it once, when the
// memory is no longer referenced), or ctx's error. n larger than the
// budget is taken as the whole budget, so such a check still runs, alone.
// n <= 0 never waits.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if n <= 0 {
		return func() {}, nil
	}
	n = min(n, b.size)
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	b.mu.Lock()
	el := b.mu.waiting.PushBack(w)
	b.grantLocked()
	b.mu.Unlock()

	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-w.ready: // granted while ctx ended: give the bytes back unused
		b.mu.live -= n
	default:
		b.mu.waiting.Remove(el)
	}
	b.grantLocked() // whoever waited behind w may fit now
	return nil, ctx.Err()
}

func (b *Budget) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c := b.cycles()
			b.mu.Lock()
			defer b.mu.Unlock()
			b.mu.live -= n
			b.mu.seq++
			b.mu.garbage.PushBack(garbage{n: n, cycle: c, seq: b.mu.seq})
			b.mu.garbageSum += n
			b.grantLocked()
		})
	}
}

// grantLocked drops the garbage the collector has reclaimed, then hands
// free bytes to the waiters in order, stopping at the first that does not
// fit; if garbage is what blocks it, it starts a collection.
func (b *Budget) grantLocked() {
	done := b.cycles()
	b.reclaimLocked(func(g garbage) bool { return done >= g.cycle+2 })
	for e := b.mu.waiting.Front(); e != nil; e = b.mu.waiting.Front() {
		w := e.Value.(*budgetWaiter)
		if b.size-b.mu.live-b.mu.garbageSum < w.n {
			if b.mu.garbageSum > 0 && !b.mu.collecting {
				b.mu.collecting = true
				go b.forceCollect(b.mu.seq)
			}
			return
		}
		b.mu.live += w.n
		b.mu.waiting.Remove(e)
		close(w.ready)
	}
}

// reclaimLocked forgets the oldest garbage for as long as gone says it was
// collected. A cycle that completes after the release may have marked the
// memory before it was released; the one after that cannot have, hence the
// +2 in grantLocked.
func (b *Budget) reclaimLocked(gone func(garbage) bool) {
	for e := b.mu.garbage.Front(); e != nil; e = b.mu.garbage.Front() {
		g := e.Value.(garbage)
		if !gone(g) {
			return
		}
		b.mu.garbage.Remove(e)
		b.mu.garbageSum -= g.n
	}
}

// forceCollect runs a full collection, which reclaims everything released
// before it started (up to seq), and grants what that freed.
func (b *Budget) forceCollect(seq uint64) {
	b.collect()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.collecting = false
	b.reclaimLocked(func(g garbage) bool { return g.seq <= seq })
	b.grantLocked()
}
