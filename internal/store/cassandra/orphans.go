package cassandra

import (
	"context"
	"math"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
)

// Orphans (store.OrphanPurger): what a write stores before the record
// that makes it reachable, when that record never lands.
//
//   - Body chunks whose header never landed: putChunks writes the chunks,
//     then the header; putOneChunk writes both at once. A PutBlob that
//     fails or whose host dies between leaves chunk partitions that no
//     header lists, so no reader, no sweep and no claim ever finds them.
//   - Spilled metadata of a commit that lost: Commit writes metadata too
//     large to inline to metaspill before its LWT, under a key no rival
//     shares; when the LWT does not apply (another commit took the head),
//     the retry spills again under its new UID and MODSEQ, and the first
//     row is referenced by no log entry.
//
// A write finishes, landed or failed, within the grace of its start: the
// grace exceeds the longest delivery and the request timeout (the
// assumption the body purge makes, purge.go; a commit's LWT is decided by
// then, since every later Paxos round on its bucket and the settling read
// complete or supersede it). So a piece written before the pass's start
// less the grace that no record reaches now is an orphan for good. Each
// is deleted USING TIMESTAMP of that bound: a write of the same key since
// (the same body delivered again, which writes every chunk, then the
// header) carries a later timestamp and survives the delete, so the
// delete can only remove what the bound covers.
//
// Costs: the pass lists the partition keys of blob_chunks and metaspill
// (SELECT DISTINCT, in PurgeSlices token ranges, like the bodies'
// listing); a chunk whose body the sweep listed needs nothing more. A
// candidate chunk costs a header read and a WRITETIME read. A mailbox with
// spilled metadata older than the bound costs a read of its log from its
// floor's bucket on (the spills of trimmed buckets went with them). Every
// delete is a partition delete (a chunk and a spill are a partition each).

// PurgeOrphans implements store.OrphanPurger.
func (b *Backend) PurgeOrphans(ctx context.Context, before time.Time, stored func(store.BlobID) bool, dryRun bool) (store.OrphanStats, error) {
	var st store.OrphanStats
	ts := before.UnixMicro()
	chunks := map[string][]int{}
	err := b.slices(ctx, b.msg, "list body chunks", b.q.chunkKeys, func(sc gocql.Scanner) error {
		var id string
		var chunk int
		if err := sc.Scan(&id, &chunk); err != nil {
			return err
		}
		if !stored(store.BlobID(id)) {
			chunks[id] = append(chunks[id], chunk)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	for id, cs := range chunks {
		var size int64
		var cz, n int
		var comp string
		if ok, err := b.getMsg(ctx, "read body header", b.q.blobGet, []any{id}, &size, &cz, &n, &comp); err != nil {
			return st, err
		} else if ok {
			continue // its header landed since the listing
		}
		for _, c := range cs {
			var wt int64
			ok, err := b.getMsg(ctx, "read a body chunk's age", b.q.chunkAge, []any{id, c}, &wt)
			if err != nil {
				return st, err
			}
			if !ok || wt >= ts {
				continue
			}
			st.Chunks++
			if dryRun {
				continue
			}
			if err := b.exec(ctx, b.msg, b.del, "delete an orphaned body chunk", b.q.chunkDelete, ts, id, c); err != nil {
				return st, err
			}
		}
	}
	spills := map[string][][]byte{}
	err = b.slices(ctx, b.meta, "list spilled metadata", b.q.spillKeys, func(sc gocql.Scanner) error {
		var mb string
		var id []byte
		if err := sc.Scan(&mb, &id); err != nil {
			return err
		}
		spills[mb] = append(spills[mb], id)
		return nil
	})
	if err != nil {
		return st, err
	}
	for mb, ids := range spills {
		n, err := b.purgeSpills(ctx, mb, ids, ts, dryRun)
		st.Spills += n
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

// purgeSpills removes the spilled metadata rows of ids (mailbox mb)
// written before ts (unix µs) that no log entry of mb refers to, and
// returns how many.
func (b *Backend) purgeSpills(ctx context.Context, mb string, ids [][]byte, ts int64, dryRun bool) (int64, error) {
	var old [][]byte
	for _, id := range ids {
		var wt int64
		ok, err := b.get(ctx, b.meta, "read spilled metadata's age", b.q.spillAge, []any{mb, id}, &wt)
		if err != nil {
			return 0, err
		}
		if ok && wt < ts {
			old = append(old, id)
		}
	}
	if len(old) == 0 {
		return 0, nil
	}
	refs, err := b.spillRefs(ctx, mb)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, id := range old {
		if refs[string(id)] {
			continue
		}
		n++
		if dryRun {
			continue
		}
		if err := b.exec(ctx, b.meta, b.del, "delete orphaned spilled metadata", b.q.spillDelete, ts, mb, id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// spillRefs returns the metaspill keys the log of mb refers to, from the
// bucket of its floor on (the buckets below it are trimmed, or being
// trimmed, with their spills) to its last bucket.
func (b *Backend) spillRefs(ctx context.Context, mb string) (map[string]bool, error) {
	t, err := b.logTrimRow(ctx, mb)
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	for bk := max(t.low, t.floorBucket); ctx.Err() == nil; bk++ {
		if _, ok, err := b.readBucket(ctx, b.read.primary, mb, bk); err != nil || !ok {
			return refs, err
		}
		err := b.readLog(ctx, mb, bk, 0, 0, func(e entry) error {
			if e.metaID != nil {
				refs[string(e.metaID)] = true
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return nil, ctx.Err()
}

// slices runs a listing statement over every token range, in
// Options.PurgeSlices slices (the two bind values are the range).
func (b *Backend) slices(ctx context.Context, s *gocql.Session, op, stmt string, row func(gocql.Scanner) error) error {
	n := uint64(b.opts.PurgeSlices)
	for i := range n {
		lo, hi := tokenSlice(i, n)
		if err := b.scan(ctx, s, op, stmt, []any{lo, hi}, nil, row); err != nil {
			return err
		}
	}
	return nil
}

// tokenSlice returns the bounds of the i-th of n equal token ranges.
func tokenSlice(i, n uint64) (lo, hi int64) {
	// Murmur3 tokens: every int64, from the least.
	step := math.MaxUint64/n + 1
	lo = int64(1<<63 + i*step)
	hi = lo + int64(step-1)
	if i == n-1 {
		hi = math.MaxInt64
	}
	return lo, hi
}

var _ store.OrphanPurger = (*Backend)(nil)
