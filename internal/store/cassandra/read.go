package cassandra

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// live is a message's mutable state while Messages assembles a snapshot.
type live struct {
	uid    int64
	modseq int64
	flags  []string
	add    *entry // the append entry, if the log tail holds it
}

// Messages implements store.Index. It returns one consistent snapshot:
//
//  1. read the head: current bucket b, materialized watermark W (or take
//     this host's fresh cached state instead: cachedBase);
//  2. read the materialized state rows (msgs) of the range;
//  3. read the log from W on (walk), following sealed buckets;
//  4. overlay: apply each logged change above a row's MODSEQ, in order.
//
// Every change visible in step 2 was materialized, so committed, before
// step 3 began, and step 3 returns a gapless prefix of the log that covers
// all such changes; entries at or below W were materialized before step 1.
// The result is therefore exactly the mailbox at the last MODSEQ read: no
// row shows a MODSEQ while an older change in the range is missing. That
// matters: after a tagged response a client may take the highest MODSEQ
// seen in FETCH responses as its HIGHESTMODSEQ (RFC 5162 section 5 with
// erratum 1809, carried into RFC 7162), and would then never ask for the
// missing change. Metadata is immutable and joined last, streaming.
func (b *Backend) Messages(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageRow) error) error {
	msgs, pre, err := b.snapshot(ctx, mailboxID, lo, hi, true)
	if err != nil || len(msgs) == 0 {
		return err
	}
	if pre != nil {
		// Metadata absent from msgmeta when it was read belongs to an
		// append above the watermark, which is in the tail.
		for i := range msgs {
			if err := b.emit(ctx, mailboxID, &msgs[i], pre[msgs[i].uid], fn); err != nil {
				return err
			}
		}
		return nil
	}
	return b.join(ctx, mailboxID, msgs, fn)
}

// States implements store.Backend: the snapshot of Messages without the
// metadata join, so one round trip to the state rows and one to the log.
func (b *Backend) States(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageState) error) error {
	msgs, _, err := b.snapshot(ctx, mailboxID, lo, hi, false)
	if err != nil {
		return err
	}
	return emitStates(msgs, fn)
}

func emitStates(msgs []live, fn func(store.MessageState) error) error {
	for _, m := range msgs {
		if err := fn(store.MessageState{UID: mail.UID(m.uid), ModSeq: mail.ModSeq(m.modseq), Flags: mail.NewFlags(m.flags...)}); err != nil {
			return err
		}
	}
	return nil
}

// HeadStates implements store.HeadStater: the head, read while the state
// rows are (when this host has a fresh cached state to start the snapshot
// from, see readBase), then the log. The head is read before the walk
// begins, so every commit it shows is in the snapshot: its MODSEQ is at
// most the snapshot's, as when Head is called before States, and a
// session that starts from it reports whatever lies between as changes.
func (b *Backend) HeadStates(ctx context.Context, mailboxID string, fn func(store.MessageState) error) (store.Head, error) {
	st, ok := b.cachedBase(mailboxID)
	if !ok {
		var err error
		if st, err = b.current(ctx, mailboxID); err != nil {
			return store.Head{}, err
		}
		msgs, _, err := b.snapshotFrom(ctx, mailboxID, st, 1, 0, false, nil)
		if err != nil {
			return store.Head{}, err
		}
		return st.head, emitStates(msgs, fn)
	}
	var head bucketState
	var headErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		headErr = b.sup.Do("cassandra: read mailbox head", func() (err error) {
			head, err = b.current(ctx, mailboxID)
			return err
		}, "mailbox", mailboxID)
	}()
	msgs, _, err := b.snapshotFrom(ctx, mailboxID, st, 1, 0, false, func() error { <-done; return headErr })
	<-done
	if err != nil {
		return store.Head{}, err
	}
	return head.head, emitStates(msgs, fn)
}

// snapshot runs steps 1 to 4 of Messages. With prefetch, a short range's
// metadata is read alongside the log and returned by UID.
func (b *Backend) snapshot(ctx context.Context, mailboxID string, lo, hi mail.UID, prefetch bool) ([]live, map[int64][]byte, error) {
	lo = max(lo, 1)
	upper := int64(hi)
	if hi == 0 {
		upper = math.MaxUint32
	}
	if upper < int64(lo) {
		return nil, nil, nil
	}
	st, ok := b.cachedBase(mailboxID)
	if !ok {
		var err error
		if st, err = b.current(ctx, mailboxID); err != nil {
			return nil, nil, err
		}
	}
	return b.snapshotFrom(ctx, mailboxID, st, lo, hi, prefetch, nil)
}

// snapshotFrom runs steps 2 to 4 from st. beforeWalk, if not nil, runs after
// the state rows are read and before the log is: an error from it fails
// the snapshot.
func (b *Backend) snapshotFrom(ctx context.Context, mailboxID string, st bucketState, lo, hi mail.UID, prefetch bool, beforeWalk func() error) ([]live, map[int64][]byte, error) {
	lo = max(lo, 1)
	upper := int64(hi)
	if hi == 0 {
		upper = math.MaxUint32
	}
	rows, err := b.states(ctx, mailboxID, int64(lo), min(upper, int64(st.head.UIDNext)-1))
	if err != nil {
		return nil, nil, err
	}
	if beforeWalk != nil {
		if err := beforeWalk(); err != nil {
			return nil, nil, err
		}
	}
	// For a short range, read the (immutable) metadata while the log is
	// read: one round trip less for the common FETCH of a few messages.
	var pre map[int64][]byte
	var preErr error
	var wg sync.WaitGroup
	if top := min(upper, int64(st.head.UIDNext)-1); prefetch && top >= int64(lo) && top-int64(lo) < prefetchMax {
		wg.Add(1)
		go func() {
			defer wg.Done()
			preErr = b.sup.Do("cassandra: read message metadata", func() (err error) {
				pre, err = b.metas(ctx, mailboxID, int64(lo), top)
				return err
			}, "mailbox", mailboxID)
		}()
	}
	tail := map[int64][]entry{}
	gone, err := b.walk(ctx, mailboxID, st.bucket, st.mat, func(e entry) error {
		if e.uid >= int64(lo) && e.uid <= upper {
			tail[e.uid] = append(tail[e.uid], e)
		}
		return nil
	})
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	if gone {
		b.heads.drop(mailboxID)
		return nil, nil, fmt.Errorf("%w: id %s (deleted)", mail.ErrNoSuchMailbox, mailboxID)
	}
	if preErr != nil {
		return nil, nil, preErr
	}
	return overlay(rows, tail), pre, nil
}

// cachedBase returns the bucket state a snapshot may start from (its step
// 1) without a read: this host's cached state, if younger than baseFresh.
// Without one, the snapshot reads the head.
//
// The cached state is as good a start as a fresh read. Its watermark is a
// true lower bound recorded before the state rows are read (every entry
// at or below it was materialized before then, so the rows show it), and
// every entry above it is in its bucket or a later one; the walk of step
// 3 begins after the rows were read and follows sealed buckets to the
// current one, so it returns every change committed before it began,
// whatever happened since the state was cached. Rows are read up to the
// cached UIDNEXT: a message appended since is above the cached head's
// MODSEQ, so above the watermark, and the walk brings its append entry.
// A deletion since is seen by the walk (the bucket it sealed is gone). So
// the snapshot is the same one, one round trip shorter; a stale state
// only lengthens the walk, which baseFresh bounds.
func (b *Backend) cachedBase(mailboxID string) (bucketState, bool) {
	if st, ok := b.heads.get(mailboxID); ok && !st.sealed && time.Since(st.seen) < baseFresh {
		return st, true
	}
	return bucketState{}, false
}

// baseFresh is how long a cached bucket state may start a snapshot or a
// walk of the change log instead of a read of the head.
const baseFresh = 10 * time.Second

// prefetchMax is the widest UID range whose metadata Messages reads
// alongside the log.
const prefetchMax = 256

// metas reads the metadata of UIDs lo..hi from msgmeta.
func (b *Backend) metas(ctx context.Context, mailboxID string, lo, hi int64) (map[int64][]byte, error) {
	out := map[int64][]byte{}
	for ub := ubucket(lo); ub <= ubucket(hi); ub++ {
		err := b.scan(ctx, b.meta, "read message metadata", b.q.metaRange,
			[]any{mailboxID, ub, max(lo, ub*uidBucket), min(hi, (ub+1)*uidBucket-1)}, nil, func(sc gocql.Scanner) error {
				var uid int64
				var raw []byte
				if err := sc.Scan(&uid, &raw); err != nil {
					return err
				}
				out[uid] = raw
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// emit calls fn for m with its metadata: raw from msgmeta, or if nil, the
// append entry in the log tail.
func (b *Backend) emit(ctx context.Context, mailboxID string, m *live, raw []byte, fn func(store.MessageRow) error) error {
	if raw == nil {
		if m.add == nil {
			return fmt.Errorf("cassandra: mailbox %s: metadata of UID %d missing", mailboxID, m.uid)
		}
		var err error
		if raw, err = b.metaOf(ctx, mailboxID, m.add); err != nil {
			return err
		}
	}
	meta, err := store.DecodeMeta(raw)
	if err != nil {
		return fmt.Errorf("cassandra: mailbox %s UID %d: %w", mailboxID, m.uid, err)
	}
	return fn(store.MessageRow{UID: mail.UID(m.uid), ModSeq: mail.ModSeq(m.modseq), Flags: mail.NewFlags(m.flags...), Meta: meta})
}

// states reads the materialized state of UIDs lo..hi, skipping expunged
// rows and rows whose append is not materialized yet.
func (b *Backend) states(ctx context.Context, mailboxID string, lo, hi int64) ([]live, error) {
	var out []live
	for ub := ubucket(lo); lo <= hi && ub <= ubucket(hi); ub++ {
		from, to := max(lo, ub*uidBucket), min(hi, (ub+1)*uidBucket-1)
		n := len(out)
		err := b.scan(ctx, b.meta, "read messages", b.q.stateRange, []any{mailboxID, ub, from, to},
			func() { out = out[:n] }, func(sc gocql.Scanner) error {
				var r live
				var modseq *int64
				var expunged *bool
				if err := sc.Scan(&r.uid, &modseq, &r.flags, &expunged); err != nil {
					return err
				}
				if modseq != nil && expunged != nil && !*expunged {
					r.modseq = *modseq
					out = append(out, r)
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// overlay applies the logged changes of tail (by UID, in MODSEQ order) to
// rows (sorted by UID) and returns the live messages, sorted by UID.
func overlay(rows []live, tail map[int64][]entry) []live {
	uids := make([]int64, 0, len(tail))
	for u := range tail {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	out := make([]live, 0, len(rows)+len(uids))
	apply := func(cur *live, es []entry) *live {
		for i := range es {
			e := &es[i]
			switch {
			case e.kind == store.ChangeAppend && cur == nil:
				cur = &live{uid: e.uid, modseq: e.modseq, flags: e.flags, add: e}
			case cur == nil || e.modseq <= cur.modseq:
			case e.kind == store.ChangeFlags:
				cur.modseq, cur.flags = e.modseq, e.flags
			case e.kind == store.ChangeExpunge:
				cur = nil
			}
			if cur != nil && e.kind == store.ChangeAppend {
				cur.add = e
			}
		}
		return cur
	}
	i, j := 0, 0
	for i < len(rows) || j < len(uids) {
		var cur *live
		var es []entry
		switch {
		case j == len(uids) || i < len(rows) && rows[i].uid < uids[j]:
			cur = &rows[i]
			i++
		case i == len(rows) || uids[j] < rows[i].uid:
			es = tail[uids[j]]
			j++
		default:
			cur, es = &rows[i], tail[uids[j]]
			i, j = i+1, j+1
		}
		if cur = apply(cur, es); cur != nil {
			out = append(out, *cur)
		}
	}
	return out
}

// join streams msgmeta alongside the snapshot and calls fn for each
// message. Metadata missing from msgmeta (not materialized yet) comes from
// the append entry in the log tail.
func (b *Backend) join(ctx context.Context, mailboxID string, msgs []live, fn func(store.MessageRow) error) error {
	emit := func(m *live, raw []byte) error { return b.emit(ctx, mailboxID, m, raw, fn) }
	for len(msgs) > 0 {
		ub := ubucket(msgs[0].uid)
		n := 1
		for n < len(msgs) && ubucket(msgs[n].uid) == ub {
			n++
		}
		part := msgs[:n]
		msgs = msgs[n:]
		k := 0
		err := b.scan(ctx, b.meta, "read message metadata", b.q.metaRange,
			[]any{mailboxID, ub, part[0].uid, part[n-1].uid}, nil, func(sc gocql.Scanner) error {
				var uid int64
				var raw []byte
				if err := sc.Scan(&uid, &raw); err != nil {
					return err
				}
				for ; k < len(part) && part[k].uid < uid; k++ {
					if err := emit(&part[k], nil); err != nil {
						return err
					}
				}
				if k < len(part) && part[k].uid == uid {
					k++
					return emit(&part[k-1], raw)
				}
				return nil
			})
		if err != nil {
			return err
		}
		for ; k < len(part); k++ {
			if err := emit(&part[k], nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Changes implements store.Index: the log from the bucket that holds
// since+1 on, so CHANGEDSINCE and VANISHED (EARLIER) are exact (RFC 7162
// 3.1.4, 3.2.10). Append changes carry their Meta from the log.
//
// Below the log floor it fails with store.ErrLogTrimmed (logtrim.go). A
// walk that began in a sealed or absent bucket may have met a trim under
// way, so it reads the floor after the walk: the trim writes the floor
// before it deletes anything, so a walk that saw a bucket (or part of one)
// deleted sees the floor that covers it. A walk that began in a bucket
// unsealed as it read it cannot meet a trim: only a bucket sealed at least
// the history ago is trimmed.
func (b *Backend) Changes(ctx context.Context, mailboxID string, since mail.ModSeq, fn func(store.Change) error) error {
	if since >= math.MaxInt64 {
		return nil
	}
	bk, cached, err := b.bucketOf(ctx, mailboxID, int64(since)+1)
	if err != nil {
		return err
	}
	_, startSealed, err := b.walkFrom(ctx, mailboxID, bk, int64(since), func(e entry) error {
		c, err := b.changeOf(ctx, mailboxID, &e)
		if err != nil {
			return err
		}
		return fn(c)
	})
	if cached || !startSealed && err == nil {
		return err
	}
	st, ferr := b.LogTrim(ctx, mailboxID)
	if ferr != nil {
		if err != nil {
			return err
		}
		return ferr
	}
	if since < st.Floor {
		return &store.LogTrimmedError{Mailbox: mailboxID, Since: since, Floor: st.Floor}
	}
	return err
}

// bucketOf returns the log bucket to walk from for the entries with
// MODSEQ >= m: the bucket mbbuckets says holds m, or, without a read, the
// bucket of this host's fresh cached state if m is above its from (every
// entry above from is in that bucket or later, and the walk follows sealed
// buckets forward). A session's refresh asks from the MODSEQ it last saw,
// which is at least the head this host read or committed for it, so the
// cache usually answers: one round trip less per IMAP command. cached
// reports the cache's answer: a bucket current less than baseFresh ago,
// which no trim can reach (logtrim.go).
func (b *Backend) bucketOf(ctx context.Context, mailboxID string, m int64) (bk int64, cached bool, err error) {
	if st, ok := b.heads.get(mailboxID); ok && m > st.from && time.Since(st.seen) < baseFresh {
		return st.bucket, true, nil
	}
	_, err = b.get(ctx, b.meta, "read change log", b.q.bucketFor, []any{mailboxID, m}, &bk)
	return bk, false, err
}
