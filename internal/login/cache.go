package login

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// verifiedCache remembers recent successful password checks for ttl, so a
// client that reconnects does not pay argon2id again; Dovecot's auth cache
// does the same (auth_cache_ttl). A nil *verifiedCache remembers nothing.
//
// An entry is keyed by HMAC-SHA256 of (user, password) under a key drawn
// at start, so the map holds no password nor anything that can be checked
// against a guess without the key, which never leaves the process. It
// records the SHA-256 of the stored hash it was verified against: a hit
// needs the user's current stored hash to match, so a password change made
// anywhere (another process, another host) invalidates it, and a deleted
// user is refused by the lookup before the cache is asked.
type verifiedCache struct {
	key [32]byte
	ttl time.Duration
	max int
	now func() time.Time
	mu  struct {
		sync.Mutex
		m map[[32]byte]cached
		// flying holds the checks of (user, password) under way, each
		// closed when its check ended (see takeoff).
		flying map[[32]byte]chan struct{}
	}
	coalesced atomic.Int64 // logins that waited for another's check
}

type cached struct {
	hash    [32]byte // SHA-256 of the stored hash string
	expires time.Time
}

// newVerifiedCache returns a cache of at most max entries, or nil when ttl
// or max is not positive (no caching).
func newVerifiedCache(ttl time.Duration, max int, now func() time.Time) *verifiedCache {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	c := &verifiedCache{ttl: ttl, max: max, now: now}
	_, _ = rand.Read(c.key[:]) // crypto/rand.Read never fails (Go 1.24)
	c.mu.m = make(map[[32]byte]cached)
	c.mu.flying = make(map[[32]byte]chan struct{})
	return c
}

// takeoff coalesces concurrent checks of one (user, password): a client
// that opens several connections at once, as most do, pays one hash, and
// its other logins are neither hashed nor counted as attempts. When no
// check of the pair is under way, the caller leads: wait is nil and it
// must call land once its check ended (after put, when it passed).
// Otherwise wait is closed when the leader lands; the caller then asks the
// cache, and goes the full way when the leader failed.
func (c *verifiedCache) takeoff(user, password string) (wait <-chan struct{}, land func()) {
	if c == nil {
		return nil, func() {}
	}
	id := c.id(user, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.mu.flying[id]; ok {
		c.coalesced.Add(1)
		return ch, nil
	}
	ch := make(chan struct{})
	c.mu.flying[id] = ch
	return nil, func() {
		c.mu.Lock()
		delete(c.mu.flying, id)
		c.mu.Unlock()
		close(ch)
	}
}

// id returns the entry key of (user, password).
func (c *verifiedCache) id(user, password string) [32]byte {
	h := hmac.New(sha256.New, c.key[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(user))) // unambiguous split
	h.Write(n[:])
	h.Write([]byte(user))
	h.Write([]byte(password))
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// live reports whether (user, password) has an unexpired entry, whatever
// hash it was verified against.
func (c *verifiedCache) live(user, password string) bool {
	if c == nil {
		return false
	}
	id := c.id(user, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.mu.m[id]
	return ok && c.now().Before(e.expires)
}

// hit reports whether (user, password) was verified against storedHash
// within the ttl.
func (c *verifiedCache) hit(user, password, storedHash string) bool {
	if c == nil {
		return false
	}
	id, sum := c.id(user, password), sha256.Sum256([]byte(storedHash))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.mu.m[id]
	return ok && e.hash == sum && c.now().Before(e.expires)
}

// put records that password verified against storedHash for user.
func (c *verifiedCache) put(user, password, storedHash string) {
	if c == nil {
		return
	}
	id, sum := c.id(user, password), sha256.Sum256([]byte(storedHash))
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.mu.m[id]; !ok && len(c.mu.m) >= c.max {
		evictOldest(c.mu.m, c.max, func(e cached) time.Time { return e.expires },
			func(exp time.Time) bool { return !now.Before(exp) })
	}
	c.mu.m[id] = cached{hash: sum, expires: now.Add(c.ttl)}
}
