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

// The purge of unreferenced bodies (store.BlobPurger). Without
// transactions across partitions, a new reference to a body and the
// sweep that deletes it are ordered by two writes and two reads
// (ARCHITECTURE.md, "Purge"):
//
//   - A writer claims the body before the commit that references it:
//     it writes blobs.created = now (a one-chunk body's PutBlob writes
//     the whole body again, header included, which is its claim), then
//     reads whether the body is whole and whether blob_purge.condemned is
//     set; if the body is not whole or is condemned, it writes the body
//     again (and then clears condemned).
//   - The sweep condemns a body (blob_purge.condemned = now) at ALL, then
//     reads blobs.created at ALL, and deletes only if created is older
//     than blob_purge.unref, when a pass first found the body
//     unreferenced; it deletes with USING TIMESTAMP unref.
//
// If the sweep's read misses the writer's claim, the claim was not
// acknowledged before that read began, so the writer's read began after
// the condemning write was acknowledged by every replica: the writer sees
// it, whatever consistency level it reads at, and writes the body again.
// Writes made after the sweep condemned carry timestamps later than
// unref (a pass at least the grace after unref condemns, and the grace
// exceeds clock skew plus the request timeout), so the deletion, which
// carries unref as its timestamp, does not shadow them. A one-chunk
// writer does not read at all: its claim is the body written whole, and
// either the sweep's read sees it or it carries a timestamp later than
// unref. The sweep's ALL reads and writes cost availability, not safety:
// with a replica down the pass fails and the next one retries.
//
// Deletes are partition deletes: one tombstone in each partition of the
// body (its header, each chunk, its purge state). The listing scans the
// blobs table in Options.PurgeSlices token ranges (default 1024), so one
// query meets the partition tombstones of 1/PurgeSlices of the bodies
// deleted within gc_grace_seconds.

// claim claims id for a reference about to be committed (see above) and
// reports whether the body is whole and whether a sweep condemned it.
func (b *Backend) claim(ctx context.Context, id store.BlobID) (whole, condemned bool, err error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := b.exec(ctx, b.msg, b.write, "claim a body", b.q.blobTouch, now, string(id)); err != nil {
		return false, false, err
	}
	var wg sync.WaitGroup
	var herr, perr error
	wg.Go(func() {
		herr = b.sup.Do("cassandra: read body header", func() (err error) {
			whole, err = b.HasBlob(ctx, id)
			return err
		})
	})
	var unref, cond time.Time
	_, perr = b.getMsg(ctx, "read a body's purge state", b.q.purgeGet, []any{string(id)}, &unref, &cond)
	wg.Wait()
	if err := cmp(herr, perr); err != nil {
		return false, false, err
	}
	return whole, !cond.IsZero(), nil
}

// uncondemn clears a condemnation a writer has answered by writing the
// body again, so that later claims need not write it.
func (b *Backend) uncondemn(ctx context.Context, id store.BlobID, condemned bool) error {
	if !condemned {
		return nil
	}
	return b.exec(ctx, b.msg, b.del, "clear a body's condemnation", b.q.purgeUncondemn, string(id))
}

// ClaimBlobs implements store.BlobPurger. A condemned body is written
// again from its stored chunks, with fresh timestamps.
func (b *Backend) ClaimBlobs(ctx context.Context, ids []store.BlobID) error {
	for _, id := range ids {
		whole, condemned, err := b.claim(ctx, id)
		if err != nil {
			return err
		}
		if !whole {
			return fmt.Errorf("%w: %s", mail.ErrNoBlob, id)
		}
		if !condemned {
			continue
		}
		if err := b.rewrite(ctx, id); err != nil {
			return err
		}
		if err := b.uncondemn(ctx, id, true); err != nil {
			return err
		}
	}
	return nil
}

// rewrite writes a stored body again, chunks then header, as stored.
func (b *Backend) rewrite(ctx context.Context, id store.BlobID) error {
	var size int64
	var cs, n int
	var comp string
	ok, err := b.getMsg(ctx, "read body header", b.q.blobGet, []any{string(id)}, &size, &cs, &n, &comp)
	if err != nil {
		return err
	}
	if !ok || comp == "" {
		return fmt.Errorf("%w: %s", mail.ErrNoBlob, id)
	}
	for i := range n {
		var data []byte
		ok, err := b.getMsg(ctx, "read body chunk", b.q.chunkGet, []any{string(id), i}, &data)
		if err != nil {
			return err
		}
		if !ok || len(data) == 0 {
			return fmt.Errorf("%w: %s chunk %d", mail.ErrNoBlob, id, i)
		}
		if err := b.execDurable(ctx, b.msg, "write body chunk", b.q.chunkInsert, string(id), i, data); err != nil {
			return err
		}
	}
	return b.execDurable(ctx, b.msg, "write body header", b.q.blobInsert,
		string(id), size, cs, n, comp, time.Now().UTC().Truncate(time.Millisecond))
}

// PurgeBlobs implements store.BlobPurger: it scans the headers, token
// range by token range, and reads the purge state of the bodies the mark
// scan did not find referenced. Sizes are raw body sizes.
func (b *Backend) PurgeBlobs(ctx context.Context, referenced func(store.BlobID) bool, fn func(store.BlobState) error) error {
	slices := uint64(b.opts.PurgeSlices)
	for i := range slices {
		lo, hi := tokenSlice(i, slices)
		var page []store.BlobState
		err := b.scan(ctx, b.msg, "list bodies", b.q.blobList, []any{lo, hi}, func() { page = page[:0] },
			func(sc gocql.Scanner) error {
				var st store.BlobState
				var id, comp string
				if err := sc.Scan(&id, &st.Bytes, &st.Chunks, &comp, &st.Claimed); err != nil {
					return err
				}
				st.ID = store.BlobID(id)
				page = append(page, st)
				return nil
			})
		if err != nil {
			return err
		}
		for _, st := range page {
			if !referenced(st.ID) {
				var cond time.Time
				if _, err := b.getMsg(ctx, "read a body's purge state", b.q.purgeGet, []any{string(st.ID)}, &st.Unreferenced, &cond); err != nil {
					return err
				}
			}
			if err := fn(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// MarkUnreferenced implements store.BlobPurger.
func (b *Backend) MarkUnreferenced(ctx context.Context, id store.BlobID, at time.Time) error {
	return b.exec(ctx, b.msg, b.write, "mark a body unreferenced", b.q.purgeMark, at.UTC().Truncate(time.Millisecond), string(id))
}

// ClearUnreferenced implements store.BlobPurger. PurgeBlobs reports no
// purge state for referenced bodies, so the store never calls it; a mark
// a claim made stale is told by blobs.created being later.
func (b *Backend) ClearUnreferenced(ctx context.Context, id store.BlobID) error {
	return b.exec(ctx, b.msg, b.del, "clear a body's purge state", b.q.purgeClear, time.Now().UnixMicro(), string(id))
}

// all runs one statement at consistency ALL, without fallback: the
// sweep's side of the claim protocol.
func (b *Backend) all(ctx context.Context, stmt string, args []any, dest ...any) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.RequestTimeout)
	defer cancel()
	q := b.msg.Query(stmt, args...).Consistency(gocql.All).Idempotent(true)
	err := b.sendErr(ctx, stmt, gocql.All, func() error {
		if len(dest) == 0 {
			return q.ExecContext(ctx)
		}
		return q.ScanContext(ctx, dest...)
	})
	if err == gocql.ErrNotFound {
		return nil
	}
	return err
}

// CondemnBlob implements store.BlobPurger.
func (b *Backend) CondemnBlob(ctx context.Context, st store.BlobState) (bool, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := b.all(ctx, b.q.purgeCondemn, []any{now, string(st.ID)}); err != nil {
		return false, mail.Unavailable("cassandra: condemn a body (at consistency ALL: is a replica down?)", err)
	}
	var claimed time.Time
	if err := b.all(ctx, b.q.blobClaimed, []any{string(st.ID)}, &claimed); err != nil {
		return false, mail.Unavailable("cassandra: read a condemned body's last claim (at consistency ALL: is a replica down?)", err)
	}
	if claimed.Before(st.Unreferenced) {
		return true, nil
	}
	return false, b.uncondemn(ctx, st.ID, true)
}

// DeleteBlob implements store.BlobPurger. Its steps: "chunks" (every chunk
// deleted), then the header and the purge state. A crash between leaves
// the header, so the next pass finds the body and finishes; meanwhile a
// claim finds it condemned and writes it again.
func (b *Backend) DeleteBlob(ctx context.Context, st store.BlobState, between func(string) error) error {
	ts := st.Unreferenced.UnixMicro()
	for i := range st.Chunks {
		if err := b.exec(ctx, b.msg, b.del, "delete a body chunk", b.q.chunkDelete, ts, string(st.ID), i); err != nil {
			return err
		}
	}
	if err := between("chunks"); err != nil {
		return err
	}
	if err := b.exec(ctx, b.msg, b.del, "delete a body header", b.q.blobDelete, ts, string(st.ID)); err != nil {
		return err
	}
	return b.exec(ctx, b.msg, b.del, "delete a body's purge state", b.q.purgeClear, time.Now().UnixMicro(), string(st.ID))
}

// PurgeLeftovers implements store.BlobPurger: an interrupted deletion
// keeps its header until its last step, so PurgeBlobs finds and finishes
// it; nothing else is left.
func (b *Backend) PurgeLeftovers(context.Context) (int64, int64, error) { return 0, 0, nil }

// PendingRefs implements store.PendingRefs: the bodies of commits whose
// outcome is still unknown (the uncertain-writes ledger), which may land.
func (b *Backend) PendingRefs(ctx context.Context, fn func(store.BlobID) error) error {
	for shard := range ledgerShards {
		err := b.scan(ctx, b.meta, "list the uncertain-writes ledger", b.q.todoBlobs, []any{shard}, nil,
			func(sc gocql.Scanner) error {
				var blob string
				if err := sc.Scan(&blob); err != nil {
					return err
				}
				return fn(store.BlobID(blob))
			})
		if err != nil {
			return err
		}
	}
	return nil
}

var (
	_ store.BlobPurger  = (*Backend)(nil)
	_ store.PendingRefs = (*Backend)(nil)
)
