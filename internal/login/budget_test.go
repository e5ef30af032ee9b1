package login

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// inUse returns the bytes taken by running checks.
func (b *Budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.mu.live
}

func TestBudgetWaitsAndTimesOut(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	r1, err := b.Acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := b.Acquire(ctx, 40)
	if err != nil {
		t.Fatal(err)
	}
	if free, err := b.Acquire(ctx, 0); err != nil {
		t.Fatalf("a zero-cost check waited on a full budget: %v", err)
	} else {
		free()
	}
	// The clock starts before the deadline's: measured the other way
	// round, a loaded machine's gap between the two came off the wait
	// (19.3 ms reported for a 20 ms deadline in one make test run).
	start := time.Now()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(short, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full budget: %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el < 20*time.Millisecond {
		t.Fatalf("gave up after %v, before the deadline", el)
	}
	got := make(chan struct{})
	go func() {
		r, err := b.Acquire(ctx, 50)
		if err == nil {
			r()
		}
		close(got)
	}()
	r2()
	r2() // twice is harmless
	select {
	case <-got:
		t.Fatal("50 granted with 40 free")
	case <-time.After(20 * time.Millisecond):
	}
	r1()
	<-got
	if n := b.inUse(); n != 0 {
		t.Fatalf("in use after every release: %d", n)
	}
}

// TestBudgetOversized: a request above the whole budget takes all of it
// and runs alone, rather than waiting forever.
func TestBudgetOversized(t *testing.T) {
	b := NewBudget(100)
	r, err := b.Acquire(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if n := b.inUse(); n != 100 {
		t.Fatalf("in use %d, want the whole 100", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 1); err == nil {
		t.Fatal("granted beside an oversized request")
	}
	r()
}

// TestBudgetFIFO: a large waiter at the front is not overtaken by a small
// one; when it gives up, the one behind it is granted.
func TestBudgetFIFO(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	r, _ := b.Acquire(ctx, 60)
	bigCtx, giveUp := context.WithCancel(ctx)
	bigDone := make(chan error, 1)
	go func() { _, err := b.Acquire(bigCtx, 80); bigDone <- err }()
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.mu.waiting.Len() == 1 })
	small := make(chan func(), 1)
	go func() { r, _ := b.Acquire(ctx, 30); small <- r }()
	select {
	case <-small:
		t.Fatal("a small request overtook a waiting large one")
	case <-time.After(20 * time.Millisecond):
	}
	giveUp()
	if err := <-bigDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("large waiter: %v", err)
	}
	(<-small)()
	r()
	if n := b.inUse(); n != 0 {
		t.Fatalf("in use %d", n)
	}
}

// TestBudgetConcurrent never lets the bytes in use exceed the budget; run
// with -race.
func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(64)
	var cur, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(1 + i%40)
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*time.Millisecond)
			defer cancel()
			r, err := b.Acquire(ctx, n)
			if err != nil {
				return
			}
			now := cur.Add(n)
			for p := peak.Load(); now > p && !peak.CompareAndSwap(p, now); p = peak.Load() {
			}
			time.Sleep(100 * time.Microsecond)
			cur.Add(-n)
			r()
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > 64 {
		t.Fatalf("peak %d bytes in use, budget 64", p)
	}
	if n := b.inUse(); n != 0 {
		t.Fatalf("in use %d after all released", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBudgetCountsGarbage: a finished check's bytes stay charged until a
// collection that started after its release has finished, whether the
// runtime ran it (two completed cycles) or the Budget forced it because a
// waiter was blocked by garbage alone.
func TestBudgetCountsGarbage(t *testing.T) {
	b := NewBudget(100)
	var cycles atomic.Uint64
	forced := make(chan chan struct{}, 1)
	b.cycles = cycles.Load
	b.collect = func() { done := make(chan struct{}); forced <- done; <-done }
	ctx := context.Background()

	r, _ := b.Acquire(ctx, 60)
	r()
	got := make(chan func(), 1)
	go func() { r, _ := b.Acquire(ctx, 50); got <- r }()
	done := <-forced // 60 of garbage blocks 50: the Budget forces a collection
	select {
	case <-got:
		t.Fatal("granted before the garbage was collected")
	case <-time.After(20 * time.Millisecond):
	}
	close(done)
	r = <-got
	r()

	// The runtime's own cycles: one completed cycle is not enough (it may
	// have marked the memory before the release), two are.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	cycles.Add(1)
	if _, err := b.Acquire(short, 60); err == nil {
		// 50 of garbage from the last check: 60 does not fit.
		t.Fatal("granted with 50 of garbage after one cycle")
	}
	hung := <-forced // asked for, but it does not finish during this test
	defer close(hung)
	cycles.Add(1)
	r, err := b.Acquire(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	r()
}
