package store

import (
	"bytes"
	"sync"
	"time"
)

// recentBodies keeps the bytes of bodies just stored from an in-memory
// spool, for the readers that follow a delivery at once: the indexer
// (and, in immediate mode, the attachment conversion before the reply)
// reads every delivered body back, and an IDLE client fetches a new
// message within seconds. They skip the backend's read (a Pebble get and
// the decompression of the body, or a Cassandra round trip). Bodies are
// content-addressed, so a cached body is the stored one for as long as
// any row names it.
//
// Bounded by bytes (Options.RecentBodies, store.bodycache) and by age
// (recentFor): the oldest go first, and an idle server holds nothing
// for long. Safe for concurrent use; a nil *recentBodies keeps nothing.
type recentBodies struct {
	mu    sync.Mutex
	max   int64
	size  int64
	m     map[BlobID]recentBody
	order []recentKey // oldest first, from head; a key whose body was put again since is stale
	head  int
	now   func() time.Time
}

type recentBody struct {
	b  []byte
	at time.Time
}

type recentKey struct {
	id BlobID
	at time.Time
}

// recentFor is how long a stored body is kept: the indexer reads it
// within about a second of the delivery, a client fetches new mail
// within seconds of IDLE's news.
const recentFor = 30 * time.Second

func newRecentBodies(max int64, now func() time.Time) *recentBodies {
	if max <= 0 {
		return nil
	}
	return &recentBodies{max: max, m: map[BlobID]recentBody{}, now: now}
}

// put keeps b, the whole body of id; a body larger than a quarter of the
// bound is not kept (it would push out many).
func (c *recentBodies) put(id BlobID, b []byte) {
	if c == nil || int64(cap(b)) > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if e, ok := c.m[id]; ok {
		if now.Sub(e.at) < recentFor {
			return
		}
		c.size -= int64(cap(e.b)) // expired: put anew; its queue key is stale
	}
	c.m[id] = recentBody{b: b, at: now}
	c.order = append(c.order, recentKey{id, now})
	c.size += int64(cap(b))
	for c.head < len(c.order) && (c.size > c.max || now.Sub(c.order[c.head].at) >= recentFor) {
		c.evict()
	}
	if c.head > len(c.order)/2 { // compact the queue now and then
		c.order = append(c.order[:0], c.order[c.head:]...)
		c.head = 0
	}
}

// evict drops the oldest body; the caller holds mu.
func (c *recentBodies) evict() {
	k := c.order[c.head]
	c.head++
	if e, ok := c.m[k.id]; ok && e.at.Equal(k.at) {
		c.size -= int64(cap(e.b))
		delete(c.m, k.id)
	}
}

// get returns the body of id, if kept and young enough.
func (c *recentBodies) get(id BlobID) (Blob, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[id]
	if !ok || c.now().Sub(e.at) >= recentFor {
		return nil, false
	}
	return memBlob{bytes.NewReader(e.b)}, true
}

// memBlob is a Blob in memory.
type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }
