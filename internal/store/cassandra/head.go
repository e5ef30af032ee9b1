package cassandra

import (
	"context"
	"fmt"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// bucketState is the static columns of one log bucket.
type bucketState struct {
	bucket int64
	head   store.Head
	rows   int64 // log rows in the bucket
	sealed bool  // full: the head continues in bucket+1
	gone   bool  // the mailbox was deleted
	mat    int64 // every entry with MODSEQ <= mat is materialized; -1: unknown
	// from: every entry with MODSEQ > from is in this bucket or a later
	// one (the bucket was current at a head of MODSEQ from).
	from int64
	// fence: the bucket's fence (0: never fenced, null in the table);
	// a commit applies only while it is unchanged (fence.go).
	fence int64
	seen  time.Time // when the head cache recorded it
}

// readBucket reads a bucket's static columns at level c. ok is false if
// the bucket does not exist.
func (b *Backend) readBucket(ctx context.Context, c gocql.Consistency, mailboxID string, bucket int64) (st bucketState, ok bool, err error) {
	var uidnext, modseq, mat, fence *int64
	var sealed, gone *bool
	dest := []any{&uidnext, &modseq, &st.head.Messages, &st.head.Unseen, &st.head.Deleted, &st.head.Size,
		&st.rows, &sealed, &gone, &mat, &fence}
	args := []any{mailboxID, bucket}
	if c == gocql.Serial || c == gocql.LocalSerial {
		err = b.serialGet(ctx, c, b.q.headGet, args, dest...)
		if err == gocql.ErrNotFound {
			err = nil
		} else {
			ok = err == nil
		}
	} else {
		ok, err = b.get(ctx, b.meta, "read mailbox head", b.q.headGet, args, dest...)
	}
	if err != nil || !ok || modseq == nil || uidnext == nil {
		return bucketState{}, false, err
	}
	st.bucket = bucket
	st.head.UIDNext, st.head.ModSeq = mail.UID(*uidnext), mail.ModSeq(*modseq)
	st.from = *modseq
	st.sealed = sealed != nil && *sealed
	st.gone = gone != nil && *gone
	st.mat = -1
	if mat != nil {
		st.mat = *mat
	}
	if fence != nil {
		st.fence = *fence
	}
	return st, true, nil
}

// current returns the state of the mailbox's current (unsealed) bucket,
// following sealed buckets forward and completing any roll left half done.
func (b *Backend) current(ctx context.Context, mailboxID string) (bucketState, error) {
	bk, ok := b.heads.bucket(mailboxID)
	if !ok {
		var hint int64
		found, err := b.get(ctx, b.meta, "read mailbox head", b.q.curGet, []any{mailboxID}, &hint)
		if err != nil {
			return bucketState{}, err
		}
		if found {
			bk = hint
		}
	}
	for ctx.Err() == nil {
		st, ok, err := b.readBucket(ctx, b.read.primary, mailboxID, bk)
		if err != nil {
			return bucketState{}, err
		}
		if !ok {
			// Hints only ever name buckets that exist, so this is a mailbox
			// that never existed (or was purged).
			b.heads.drop(mailboxID)
			return bucketState{}, fmt.Errorf("%w: id %s", mail.ErrNoSuchMailbox, mailboxID)
		}
		if st.gone {
			b.heads.drop(mailboxID)
			return bucketState{}, fmt.Errorf("%w: id %s (deleted)", mail.ErrNoSuchMailbox, mailboxID)
		}
		if !st.sealed {
			return b.heads.put(mailboxID, st), nil
		}
		if err := b.openBucket(ctx, mailboxID, st); err != nil {
			return bucketState{}, err
		}
		bk++
	}
	return bucketState{}, fmt.Errorf("cassandra: read head of %s: %w", mailboxID, ctx.Err())
}

// openBucket creates the successor of the sealed bucket st, carrying its
// final head, if it does not exist yet, and records where it begins. Every
// entry of a sealed bucket is materialized (the roller did it before
// sealing), so the successor's watermark starts at the head.
func (b *Backend) openBucket(ctx context.Context, mailboxID string, st bucketState) error {
	next := st.bucket + 1
	h := st.head
	op := "open log bucket"
	if _, _, err := b.cas(ctx, op, b.q.headInsert,
		[]any{mailboxID, next, int64(h.UIDNext), int64(h.ModSeq), h.Messages, h.Unseen, h.Deleted, h.Size},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			_, ok, err := b.readBucket(ctx, c, mailboxID, next)
			return ok, err
		}); err != nil {
		return err
	}
	if err := b.execDurable(ctx, b.meta, op, b.q.bucketSet, mailboxID, int64(h.ModSeq)+1, next); err != nil {
		return err
	}
	if err := b.execDurable(ctx, b.meta, op, b.q.watermark, int64(h.ModSeq), int64(h.ModSeq), mailboxID, next); err != nil {
		return err
	}
	return b.execDurable(ctx, b.meta, op, b.q.curSet, next, next, mailboxID)
}

// Head implements store.Index. See the package doc for why the read
// consistency, not SERIAL, is enough.
func (b *Backend) Head(ctx context.Context, mailboxID string) (store.Head, error) {
	st, err := b.current(ctx, mailboxID)
	return st.head, err
}

// headCache remembers, per mailbox, the last bucket state this host saw.
// It is only a hint: a stale bucket is followed forward by its sealed
// flag, and a stale head makes a Commit conflict, never go wrong.
// HeadHint implements store.HeadHinter: the head this host last committed
// or read for the mailbox. A stale hint costs the writer a conflict and a
// fresh read, never a wrong commit: Commit compares head_modseq in Paxos.
func (b *Backend) HeadHint(mailboxID string) (store.Head, bool) {
	st, ok := b.heads.get(mailboxID)
	if !ok || st.sealed {
		return store.Head{}, false
	}
	return st.head, true
}

type headCache struct {
	mu struct {
		sync.Mutex
		m   map[string]bucketState
		max int
	}
}

func (c *headCache) init(max int) {
	c.mu.m = make(map[string]bucketState)
	c.mu.max = max
}

func (c *headCache) bucket(id string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.mu.m[id]
	return st.bucket, ok
}

func (c *headCache) get(id string) (bucketState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.mu.m[id]
	return st, ok
}

// put records st unless a later state is known, and returns st with the
// highest watermark known for its bucket, but never above st's head: each
// is a true lower bound (the database's, or what this host materialized
// itself), so the higher is too, and a snapshot reads the state rows up to
// the head and the log above the watermark.
func (c *headCache) put(id string, st bucketState) bucketState {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.mu.m[id]
	if ok && old.bucket == st.bucket {
		// The cache may know of a later materialization than the row
		// read (the watermark is written in the background), but a
		// state is only as good as its head: a watermark above the head
		// would let a snapshot read neither the state rows above the
		// head's UIDNEXT nor the log entries below the watermark, and
		// messages committed in between would be missing from it.
		st.mat = max(st.mat, min(old.mat, int64(st.head.ModSeq)))
		// Each says that every entry above it is in this bucket or later.
		st.from = min(st.from, old.from)
		// Fences only rise: the higher is the later.
		st.fence = max(st.fence, old.fence)
	}
	st.seen = time.Now()
	if ok && (old.bucket > st.bucket || old.bucket == st.bucket && old.head.ModSeq > st.head.ModSeq) {
		return st
	}
	if len(c.mu.m) >= c.mu.max {
		for k := range c.mu.m { // evict an arbitrary entry
			delete(c.mu.m, k)
			break
		}
	}
	c.mu.m[id] = st
	return st
}

// raise records that every entry of bucket up to MODSEQ m is
// materialized, if the cached state is of that bucket (never above its
// head: see put).
func (c *headCache) raise(id string, bucket, m int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.mu.m[id]; ok && st.bucket == bucket && st.mat < m {
		st.mat = min(m, int64(st.head.ModSeq))
		c.mu.m[id] = st
	}
}

func (c *headCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.mu.m, id)
}
