package store

import (
	"bytes"
	"time"

	"github.com/quiremail/quire/internal/fifocache"
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
// (recentFor), in a fifocache: the oldest go first, and an idle server
// holds nothing for long. A nil cache keeps nothing.
type recentBodies = fifocache.Cache[BlobID, []byte]

// recentFor is how long a stored body is kept: the indexer reads it
// within about a second of the delivery, a client fetches new mail
// within seconds of IDLE's news.
const recentFor = 30 * time.Second

func newRecentBodies(max int64, now func() time.Time) *recentBodies {
	return fifocache.New(fifocache.Options[BlobID, []byte]{
		Max:  max,
		Size: func(_ BlobID, b []byte) int { return cap(b) },
		Age:  recentFor,
		Now:  now,
	})
}

// memBlob is a Blob in memory.
type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }
