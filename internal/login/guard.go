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

// Guard counts failed logins per user and per client address.
// It is safe for concurrent use.
type Guard struct {
	opts GuardOptions
	mu   struct {
		sync.Mutex
		m map[string]*failures
	}
}

type failures struct {
	n    int
	last time.Time
}

// NewGuard returns a Guard with opts.
func NewGuard(opts GuardOptions) *Guard {
	if opts.FreeFailures <= 0 {
		opts.FreeFailures = 3
	}
	if opts.BaseDelay <= 0 {
		opts.BaseDelay = 500 * time.Millisecond
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 15 * time.Second
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

func userKey(u string) string { return "u:" + u }
func addrKey(a string) string { return "a:" + a }

// Delay returns how long a login for user from addr must wait before its
// password is checked: the larger of the user's and the address's delays.
func (g *Guard) Delay(user, addr string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return max(g.delayLocked(userKey(user)), g.delayLocked(addrKey(addr)))
}

func (g *Guard) delayLocked(key string) time.Duration {
	f := g.mu.m[key]
	if f == nil || g.opts.Now().Sub(f.last) > g.opts.Forget {
		return 0
	}
	over := f.n - g.opts.FreeFailures + 1 // the failure that uses up the free ones is delayed
	if over <= 0 {
		return 0
	}
	d := g.opts.BaseDelay
	for i := 1; i < over && d < g.opts.MaxDelay; i++ {
		d *= 2
	}
	return min(d, g.opts.MaxDelay)
}

// Failed records a failed login for user from addr.
func (g *Guard) Failed(user, addr string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.opts.Now()
	for _, k := range []string{userKey(user), addrKey(addr)} {
		f := g.mu.m[k]
		if f == nil || now.Sub(f.last) > g.opts.Forget {
			if f == nil && len(g.mu.m) >= g.opts.MaxEntries {
				g.evictLocked(now)
			}
			f = &failures{}
			g.mu.m[k] = f
		}
		f.n++
		f.last = now
	}
}

// Succeeded forgets the user's failures. The address keeps its count, so a
// client guessing many users' passwords is still slowed down.
func (g *Guard) Succeeded(user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.mu.m, userKey(user))
}

// evictLocked makes room: it drops forgotten entries, and if none were,
// the oldest quarter of the map.
func (g *Guard) evictLocked(now time.Time) {
	for k, f := range g.mu.m {
		if now.Sub(f.last) > g.opts.Forget {
			delete(g.mu.m, k)
		}
	}
	if len(g.mu.m) < g.opts.MaxEntries {
		return
	}
	var oldest []time.Time
	for _, f := range g.mu.m {
		oldest = append(oldest, f.last)
	}
	cut := quantile(oldest, len(oldest)/4)
	for k, f := range g.mu.m {
		if !f.last.After(cut) {
			delete(g.mu.m, k)
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
