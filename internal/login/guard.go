package login

import (
	"sync"
	"time"
)

// GuardOptions tune a Guard; zero values take the defaults noted.
type GuardOptions struct {
	FreeFailures int           // failures without delay; the next attempt waits (default 3)
	BaseDelay    time.Duration // the first delay, doubled per failure (default 500ms)
	MaxDelay     time.Duration // the longest delay (default 15s)
	Forget       time.Duration // failures older than this are forgotten (default 15m)
	MaxEntries   int           // users plus addresses remembered (default 100000)
	Now          func() time.Time
}

// Guard counts failed logins, and logins whose password is being checked,
// per user and per client address. It is safe for concurrent use.
type Guard struct {
	opts GuardOptions
	mu   struct {
		sync.Mutex
		m map[string]*failures
	}
}

type failures struct {
	n        int // failed attempts
	inflight int // attempts whose password is being checked
	last     time.Time
}

// NewGuard returns a Guard with opts.
func NewGuard(opts GuardOptions) *Guard {
	opts.FreeFailures, opts.MaxDelay = limits(opts.FreeFailures, opts.MaxDelay)
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 500 * time.Millisecond
	}
	if opts.Forget <= 0 {
		opts.Forget = 15 * time.Minute
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	g := &Guard{opts: opts}
	g.mu.m = make(map[string]*failures)
	return g
}

// limits applies the defaults of FreeFailures and MaxDelay.
func limits(free int, maxDelay time.Duration) (int, time.Duration) {
	if free <= 0 {
		free = 3
	}
	if maxDelay <= 0 {
		maxDelay = 15 * time.Second
	}
	return free, maxDelay
}

// SetLimits changes FreeFailures and MaxDelay of a running Guard (a
// configuration reload), with NewGuard's defaults for values <= 0. The
// next Attempt is delayed by the new limits; failures already counted
// stay counted.
func (g *Guard) SetLimits(freeFailures int, maxDelay time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.opts.FreeFailures, g.opts.MaxDelay = limits(freeFailures, maxDelay)
}

func userKey(u string) string { return "u:" + u }
func addrKey(a string) string { return "a:" + a }

// Attempt starts a login attempt for user from addr and returns how long
// it must wait before its password is checked: the larger of the user's
// and the address's delays. Attempts still being checked count as failures
// in that delay, so concurrent guesses delay each other as a sequence of
// failures would: always for the user, and for the address once it has
// failed at all, so that many users logging in at once from one shared
// address (a NAT, a webmail host) are not delayed by each other. Every
// Attempt ends with exactly one of Failed, Passed or Abandoned.
func (g *Guard) Attempt(user, addr string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Now()
	u, a := g.entryLocked(userKey(user), now), g.entryLocked(addrKey(addr), now)
	pending := 0
	if a.n > 0 {
		pending = a.inflight
	}
	d := max(g.delay(u.n+u.inflight), g.delay(a.n+pending))
	u.inflight++
	a.inflight++
	u.last, a.last = now, now
	return d
}

// entryLocked returns key's entry, made or restarted when it has none or
// its failures are forgotten.
func (g *Guard) entryLocked(key string, now time.Time) *failures {
	f := g.mu.m[key]
	if f != nil && now.Sub(f.last) > g.opts.Forget {
		f.n = 0 // forgotten; attempts under way stay counted
	}
	if f == nil {
		if len(g.mu.m) >= g.opts.MaxEntries {
			g.evictLocked(now)
		}
		f = &failures{}
		g.mu.m[key] = f
	}
	return f
}

// delay is the wait after n failures. g.mu is held: SetLimits changes
// the limits it reads.
func (g *Guard) delay(n int) time.Duration {
	over := n - g.opts.FreeFailures + 1 // the failure that uses up the free ones is delayed
	if over <= 0 {
		return 0
	}
	d := g.opts.BaseDelay
	for i := 1; i < over && d < g.opts.MaxDelay; i++ {
		d *= 2
	}
	return min(d, g.opts.MaxDelay)
}

// Failed ends an Attempt whose password was wrong: a failure for the user
// and for the address.
func (g *Guard) Failed(user, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Now()
	for _, k := range []string{userKey(user), addrKey(addr)} {
		f := g.entryLocked(k, now)
		f.inflight = max(f.inflight-1, 0)
		f.n++
		f.last = now
	}
}

// Passed ends an Attempt whose password was right: the user's failures are
// forgotten. The address keeps its failures, so a client guessing many
// users' passwords is still slowed down.
func (g *Guard) Passed(user, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.mu.m[userKey(user)]; f != nil {
		f.n = 0
	}
	g.endLocked(userKey(user))
	g.endLocked(addrKey(addr))
}

// Abandoned ends an Attempt whose password was never checked (the store or
// the hash budget was unavailable): nothing is counted.
func (g *Guard) Abandoned(user, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.endLocked(userKey(user))
	g.endLocked(addrKey(addr))
}

// Succeeded forgets the user's failures after a login that made no
// Attempt (a cached verification).
func (g *Guard) Succeeded(user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f := g.mu.m[userKey(user)]; f != nil {
		f.n = 0
		g.dropIdleLocked(userKey(user), f)
	}
}

// endLocked ends one attempt under way on key, if its entry still exists.
func (g *Guard) endLocked(key string) {
	if f := g.mu.m[key]; f != nil {
		f.inflight = max(f.inflight-1, 0)
		g.dropIdleLocked(key, f)
	}
}

// dropIdleLocked deletes an entry that holds nothing.
func (g *Guard) dropIdleLocked(key string, f *failures) {
	if f.n == 0 && f.inflight == 0 {
		delete(g.mu.m, key)
	}
}

// evictLocked makes room: it drops forgotten entries, and if none were,
// the oldest quarter of the map.
func (g *Guard) evictLocked(now time.Time) {
	evictOldest(g.mu.m, g.opts.MaxEntries, func(f *failures) time.Time { return f.last },
		func(last time.Time) bool { return now.Sub(last) > g.opts.Forget })
}

// evictOldest drops from m the entries whose time is stale, and if m still
// holds max or more, the quarter with the oldest times.
func evictOldest[K comparable, V any](m map[K]V, max int, at func(V) time.Time, stale func(time.Time) bool) {
	for k, v := range m {
		if stale(at(v)) {
			delete(m, k)
		}
	}
	if len(m) < max {
		return
	}
	oldest := make([]time.Time, 0, len(m))
	for _, v := range m {
		oldest = append(oldest, at(v))
	}
	cut := quantile(oldest, len(oldest)/4)
	for k, v := range m {
		if !at(v).After(cut) {
			delete(m, k)
		}
	}
}

// quantile returns the k-th smallest time (0-based) by partial selection.
func quantile(ts []time.Time, k int) time.Time {
	lo, hi := 0, len(ts)-1
	for lo < hi {
		p := ts[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for ts[i].Before(p) {
				i++
			}
			for p.Before(ts[j]) {
				j--
			}
			if i <= j {
				ts[i], ts[j] = ts[j], ts[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return ts[k]
		}
	}
	return ts[k]
}
