package store

import (
	"sync"
	"time"

	"github.com/quiremail/quire/internal/supervise"
)

// workers run the goroutines of a delivery to several recipients (the
// body's write, each recipient's filing) on goroutines that outlive it.
// A new goroutine starts with the smallest stack and grows it for the
// backend's deep calls, copying it twice or more: runtime.newstack was
// 4.5 % of quire's CPU at five recipients, all of it under those
// goroutines. A worker's stack has grown already (the collector may
// shrink an idle one, once a cycle at most). Handing a job over never
// waits: with no worker idle and maxWorkers running, the job gets a
// goroutine of its own, as before, so no job waits for another's worker.
// A worker idle for workerIdle exits.
type workers struct {
	jobs chan func() // unbuffered: a send succeeds only to an idle worker
	mu   sync.Mutex
	n    int // workers running
}

const (
	maxWorkers = 32
	workerIdle = 30 * time.Second
)

func newWorkers() *workers { return &workers{jobs: make(chan func())} }

// run runs job on an idle worker, a new worker, or a goroutine of its own.
func (w *workers) run(job func()) {
	select {
	case w.jobs <- job:
		return
	default:
	}
	w.mu.Lock()
	if w.n < maxWorkers {
		w.n++
		w.mu.Unlock()
		go w.loop(job)
		return
	}
	w.mu.Unlock()
	go catch(job)
}

// catch runs job, recovering its panic (jobs recover their own; this is
// the goroutine's guard).
func catch(job func()) { _ = supervise.Catch(func() error { job(); return nil }) }

// loop runs job, then the jobs handed to it, until it has been idle for
// workerIdle.
func (w *workers) loop(job func()) {
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		catch(job)
		t.Reset(workerIdle)
		select {
		case job = <-w.jobs:
		case <-t.C:
			w.mu.Lock()
			w.n--
			w.mu.Unlock()
			return
		}
	}
}
