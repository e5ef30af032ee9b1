// Package fifocache is a map bounded by bytes that forgets its oldest
// entries first: what the server keeps in memory of content-addressed
// data (bodies just delivered, encoded envelopes, phrase filters), whose
// entries never go stale, only old.
//
// Invariants:
//   - The bytes of the entries held (Options.Size of each) stay within
//     Options.Max, split evenly over the shards; an entry larger than a
//     quarter of its shard's bound is not kept (it would push out many).
//   - Entries leave in the order they came, per shard; with Options.Age
//     an entry older than it is neither returned nor counted for long.
//   - Put of a key held and young keeps the entry held.
//   - Safe for concurrent use; a nil *Cache keeps nothing.
package fifocache

import (
	"hash/maphash"
	"sync"
	"time"
)

// Options configure a Cache.
type Options[K comparable, V any] struct {
	// Max bounds the bytes held; a Max of 0 or less makes New return nil.
	Max int64
	// Shards split the cache, each with its lock and its order
	// (default 1).
	Shards int
	// Size is what an entry costs, in bytes.
	Size func(K, V) int
	// Hash picks a key's shard; needed with more than one shard.
	Hash func(maphash.Seed, K) uint64
	// Age, if positive, is how long an entry is kept at most.
	Age time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Cache is the bounded map.
type Cache[K comparable, V any] struct {
	opts   Options[K, V]
	seed   maphash.Seed
	shards []shard[K, V]
}

type shard[K comparable, V any] struct {
	mu    sync.Mutex
	max   int64
	size  int64
	m     map[K]entry[V]
	order []stamp[K] // oldest first, from head; a stamp whose key was put again since is stale
	head  int
}

type entry[V any] struct {
	v    V
	size int64
	at   time.Time
}

type stamp[K comparable] struct {
	k  K
	at time.Time
}

// New returns a cache, or nil (which keeps nothing) when o.Max is not
// positive.
func New[K comparable, V any](o Options[K, V]) *Cache[K, V] {
	if o.Max <= 0 {
		return nil
	}
	if o.Shards < 1 || o.Hash == nil {
		o.Shards = 1
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &Cache[K, V]{opts: o, seed: maphash.MakeSeed(), shards: make([]shard[K, V], o.Shards)}
	for i := range c.shards {
		c.shards[i] = shard[K, V]{max: o.Max / int64(o.Shards), m: map[K]entry[V]{}}
	}
	return c
}

func (c *Cache[K, V]) shard(k K) *shard[K, V] {
	if len(c.shards) == 1 {
		return &c.shards[0]
	}
	return &c.shards[c.opts.Hash(c.seed, k)%uint64(len(c.shards))]
}

func (c *Cache[K, V]) young(e entry[V], now time.Time) bool {
	return c.opts.Age <= 0 || now.Sub(e.at) < c.opts.Age
}

// Get returns the entry of k, if held and young enough.
func (c *Cache[K, V]) Get(k K) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k]
	if !ok || c.opts.Age > 0 && !c.young(e, c.opts.Now()) {
		return zero, false
	}
	return e.v, true
}

// Put keeps v as the entry of k, unless k is held and young, or v is
// too large; then the oldest entries go until the shard is within its
// bound and, with Options.Age, holds nothing older.
func (c *Cache[K, V]) Put(k K, v V) {
	if c == nil {
		return
	}
	n := int64(c.opts.Size(k, v))
	s := c.shard(k)
	if n > s.max/4 {
		return
	}
	var now time.Time
	if c.opts.Age > 0 {
		now = c.opts.Now()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		if c.young(e, now) {
			return
		}
		s.size -= e.size // expired: put anew; its stamp is stale
	}
	s.m[k] = entry[V]{v: v, size: n, at: now}
	s.order = append(s.order, stamp[K]{k, now})
	s.size += n
	for s.head < len(s.order) && (s.size > s.max || c.opts.Age > 0 && now.Sub(s.order[s.head].at) >= c.opts.Age) {
		s.evict()
	}
	if s.head > len(s.order)/2 { // compact the queue now and then
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}

// Delete forgets the entry of k. Its place in the order stays until its
// turn comes: if k is put again meanwhile (without Options.Age), the new
// entry may leave at the old one's turn, early, which a cache allows.
func (c *Cache[K, V]) Delete(k K) {
	if c == nil {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.m[k]; ok {
		s.size -= e.size
		delete(s.m, k)
	}
}

// evict drops the oldest entry; the caller holds mu.
func (s *shard[K, V]) evict() {
	st := s.order[s.head]
	s.head++
	if e, ok := s.m[st.k]; ok && e.at.Equal(st.at) {
		s.size -= e.size
		delete(s.m, st.k)
	}
}

// Len returns the number of entries held, old ones included.
func (c *Cache[K, V]) Len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// StringHash is Options.Hash for string keys.
func StringHash(seed maphash.Seed, k string) uint64 { return maphash.String(seed, k) }
