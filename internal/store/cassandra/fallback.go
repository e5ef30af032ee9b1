package cassandra

import (
	"log/slog"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// fallback chooses the consistency level of one query class (read, write,
// delete). It runs on the primary level until an attempt at the primary
// fails for lack of replicas; it then runs on the secondary level and lets
// one query at a time probe the primary again, after a wait that starts at
// min and doubles up to max. A probe that succeeds switches the class back.
// Both switches are logged at Warn, each failed probe at Info (with the
// wait until the next). It is safe for concurrent use.
type fallback struct {
	class              string
	primary, secondary gocql.Consistency
	hasSecondary       bool
	min, max           time.Duration
	now                func() time.Time
	log                *slog.Logger

	mu struct {
		sync.Mutex
		degraded bool
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

// pick returns the level for the next attempt, and whether that attempt
// is the probe of the primary.
func (f *fallback) pick() (c gocql.Consistency, probe bool) {
	if !f.hasSecondary {
		return f.primary, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.mu.degraded {
		return f.primary, false
	}
	if !f.mu.probing && !f.now().Before(f.mu.probeAt) {
		f.mu.probing = true
		return f.primary, true
	}
	return f.secondary, false
}

// report records the outcome of an attempt at level c. unavailable says
// the attempt failed for lack of replicas or time; err is for the log.
func (f *fallback) report(c gocql.Consistency, probe, unavailable bool, err error) {
	if !f.hasSecondary || c != f.primary {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case probe && !unavailable && err == nil:
		f.mu.degraded, f.mu.probing = false, false
		f.log.Warn("cassandra: primary consistency restored", "class", f.class, "consistency", f.primary.String())
	case probe:
		f.mu.probing = false
		if unavailable {
			f.mu.wait = min(2*f.mu.wait, f.max)
			f.log.Info("cassandra: primary consistency still unavailable", "class", f.class,
				"consistency", f.primary.String(), "next_probe_in", f.mu.wait, "err", err)
		}
		f.mu.probeAt = f.now().Add(f.mu.wait)
	case unavailable && !f.mu.degraded:
		f.mu.degraded = true
		f.mu.wait = f.min
		f.mu.probeAt = f.now().Add(f.min)
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
