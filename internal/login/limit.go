package login

import "sync"

// Limiter bounds concurrent sessions per key (a user, a client address).
// It is safe for concurrent use; the zero value is not usable.
type Limiter struct {
	max int
	mu  struct {
		sync.Mutex
		n map[string]int
	}
}

// NewLimiter returns a Limiter allowing max sessions per key; max <= 0
// means no limit.
func NewLimiter(max int) *Limiter {
	l := &Limiter{max: max}
	l.mu.n = make(map[string]int)
	return l
}

// Acquire takes a slot for key. It reports false, taking nothing, when key
// already holds the maximum. Otherwise the caller must call release once.
func (l *Limiter) Acquire(key string) (release func(), ok bool) {
	if l.max <= 0 {
		return func() {}, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.n[key] >= l.max {
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
