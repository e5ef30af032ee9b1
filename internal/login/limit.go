package login

import "sync"

// Limiter bounds concurrent sessions per key (a user, a client address).
// It is safe for concurrent use; the zero value is not usable.
//
// It counts every session, also while there is no bound, so a bound set
// later (SetMax, a configuration reload) applies to the sessions already
// open: a key over a lowered bound keeps its sessions and gets no new one
// until enough of them end.
type Limiter struct {
	mu struct {
		sync.Mutex
		max int
		n   map[string]int
	}
}

// NewLimiter returns a Limiter allowing max sessions per key; max <= 0
// means no limit.
func NewLimiter(max int) *Limiter {
	l := &Limiter{}
	l.mu.max = max
	l.mu.n = make(map[string]int)
	return l
}

// SetMax replaces the bound; max <= 0 means no limit. Sessions already
// open are kept and counted against it.
func (l *Limiter) SetMax(max int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mu.max = max
}

// Acquire takes a slot for key. It reports false, taking nothing, when key
// already holds the maximum. Otherwise the caller must call release once.
func (l *Limiter) Acquire(key string) (release func(), ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.max > 0 && l.mu.n[key] >= l.mu.max {
		return nil, false
	}
	l.mu.n[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.mu.n[key]--; l.mu.n[key] <= 0 {
				delete(l.mu.n, key)
			}
		})
	}, true
}
