package store

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWorkersNeverWait: run hands a job over at once even when every
// worker is busy with jobs that wait for later ones (the jobs then get
// goroutines of their own), at most maxWorkers workers run, and a job's
// panic does not end its worker's process.
func TestWorkersNeverWait(t *testing.T) {
	w := newWorkers()
	release := make(chan struct{})
	var started sync.WaitGroup
	n := 3 * maxWorkers
	started.Add(n)
	for range n {
		done := make(chan struct{})
		go func() {
			w.run(func() { started.Done(); <-release })
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("run waited for a busy worker")
		}
	}
	started.Wait() // every job runs at once: none waits for a worker
	w.mu.Lock()
	if w.n != maxWorkers {
		t.Errorf("%d workers running, want %d", w.n, maxWorkers)
	}
	w.mu.Unlock()
	close(release)
	var ran atomic.Int32
	w.run(func() { panic("a job's bug") })
	deadline := time.Now().Add(5 * time.Second)
	for ran.Load() == 0 && time.Now().Before(deadline) {
		w.run(func() { ran.Add(1) })
		time.Sleep(10 * time.Millisecond)
	}
	if ran.Load() == 0 {
		t.Error("no job ran after a panic")
	}
}
