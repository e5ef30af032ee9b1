package cassandra

import (
	"log/slog"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// fallback chooses the consistency level of one query class (read, write,
// delete) for each attempt, in one of two modes.
//
// A sticky class (writes, deletes) runs on the primary level until an
// attempt at the primary is refused for lack of replicas (lacksReplicas);
// it then runs on the secondary level and lets one query at a time probe
// the primary again, after a wait that starts at min and doubles up to
// max. A probe that succeeds switches the class back, and so does any
// other attempt at the primary that began after the switch and succeeded
// (a write the caller would not run below a quorum: Backend.durable).
//
// A per-query class (reads) tries every attempt at the primary first, and
// the caller retries at the secondary only when that attempt itself was
// refused for lack of replicas: no read stays on the secondary level once
// the replicas are back. It needs no probes; degraded then says whether
// the last reads needed the secondary.
//
// Switches are logged at Warn, failed probes at Info (with the wait until
// the next). It is safe for concurrent use.
type fallback struct {
	class              string
	primary, secondary gocql.Consistency
	hasSecondary       bool
	perQuery           bool
	min, max           time.Duration
	now                func() time.Time
	log                *slog.Logger

	mu struct {
		sync.Mutex
		degraded bool
		since    time.Time     // of the switch to the secondary
		wait     time.Duration // until the next probe
		probeAt  time.Time
		probing  bool // a probe is in flight
	}
}

func newFallback(class string, primary, secondary gocql.Consistency, min, max time.Duration, now func() time.Time, log *slog.Logger) *fallback {
	return &fallback{
		class: class, primary: primary, secondary: secondary,
		hasSecondary: secondary != gocql.Any && secondary != primary,
		min:          min, max: max, now: now, log: log,
	}
}

// newPerQueryFallback returns a per-query class (see fallback).
func newPerQueryFallback(class string, primary, secondary gocql.Consistency, now func() time.Time, log *slog.Logger) *fallback {
	f := newFallback(class, primary, secondary, 0, 0, now, log)
	f.perQuery = true
	return f
}

// attempt is one try of a query: its level, whether it probes the primary,
// and when it was chosen.
type attempt struct {
	c     gocql.Consistency
	probe bool
	at    time.Time
}

// pick returns the next attempt.
func (f *fallback) pick() attempt {
	if !f.hasSecondary {
		return attempt{c: f.primary}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := attempt{c: f.primary, at: f.now()}
	switch {
	case f.perQuery || !f.mu.degraded:
	case !f.mu.probing && !a.at.Before(f.mu.probeAt):
		f.mu.probing = true
		a.probe = true
	default:
		a.c = f.secondary
	}
	return a
}

// report records the outcome of attempt a, made at level a.c (which the
// caller may have raised from the level picked: only outcomes at the
// primary count). unavailable says the attempt was refused for lack of
// replicas; err is for the log.
func (f *fallback) report(a attempt, unavailable bool, err error) {
	if !f.hasSecondary || a.c != f.primary {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := !unavailable && err == nil
	switch {
	case ok && f.mu.degraded && (a.probe || a.at.After(f.mu.since)):
		f.mu.degraded, f.mu.probing = false, false
		f.log.Warn("cassandra: primary consistency restored", "class", f.class, "consistency", f.primary.String())
	case a.probe:
		f.mu.probing = false
		if unavailable {
			f.mu.wait = min(2*f.mu.wait, f.max)
			f.log.Info("cassandra: primary consistency still unavailable", "class", f.class,
				"consistency", f.primary.String(), "next_probe_in", f.mu.wait, "err", err)
		}
		f.mu.probeAt = f.now().Add(f.mu.wait)
	case unavailable && !f.mu.degraded:
		f.mu.degraded = true
		f.mu.since = f.now()
		f.mu.wait = f.min
		f.mu.probeAt = f.mu.since.Add(f.min)
		f.log.Warn("cassandra: switching to fallback consistency", "class", f.class,
			"from", f.primary.String(), "to", f.secondary.String(), "err", err)
	}
}

// degraded reports whether the class runs on its fallback level.
func (f *fallback) degraded() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.degraded
}

// Degraded reports, per query class ("read", "write", "delete"), whether
// it runs on its fallback consistency now, for the metrics and /readyz.
func (b *Backend) Degraded() map[string]bool {
	return map[string]bool{"read": b.read.degraded(), "write": b.write.degraded(), "delete": b.del.degraded()}
}
