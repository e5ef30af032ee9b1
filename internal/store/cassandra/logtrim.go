package cassandra

import (
	"context"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// The change log's trimming (store.LogTrimmer) drops whole log buckets
// (partitions of mblog), oldest first, with the spilled metadata their
// entries point at, and the mbbuckets rows that locate them; the state
// lives in logtrim ((mailbox_id) -> floor, floor_bucket, low, mark).
//
// TrimLog to MODSEQ P drops the buckets below t, the bucket mbbuckets
// says begins at or below P (first_modseq(t) <= P): so a commit at or
// above first_modseq(t) had landed by the mark's time, and every bucket
// below t was sealed by then, at least the history ago. The current bucket
// and any bucket sealed since are never dropped. The floor becomes
// first_modseq(t) - 1, the last MODSEQ of bucket t-1.
//
// Order, for a trim stopped anywhere: (1) the floor and its bucket t are
// written, at a quorum, before anything is deleted; (2) each bucket from
// low to t-1: its entries' metaspill partitions, then the bucket's
// partition; (3) the mbbuckets rows of the dropped buckets, one range
// deletion (first_modseq < first_modseq(t)); (4) low = t and the new
// mark. A trim stopped before (4) is finished by the next TrimLog, which
// deletes from low to floor_bucket again (the deletes are idempotent).
//
// Readers (Changes): a walk that begins in a sealed or absent bucket reads
// the floor after it (read.go), and (1) precedes every deletion, so a walk
// that met any of them sees the floor. A bucket is one partition, removed
// by one partition tombstone, so a read sees all of it or none; the walk
// may read a bucket in pages, which the floor read covers as well.
//
// Tombstones: one partition tombstone per dropped bucket (in the bucket's
// own partition, which nothing reads again but a Changes from below the
// floor: it finds the tombstone alone), one per spilled metadata row (a
// partition each), and one range tombstone in the mailbox's mbbuckets
// partition per trim. A bucketFor lookup of a MODSEQ above the floor
// stops at a live row before reaching it; one below the floor meets a
// single range tombstone per trim done within gc_grace_seconds (10 days):
// with a history of a day, about 10 trims, far under
// tombstone_warn_threshold (1,000).

// LogTrim implements store.LogTrimmer.
func (b *Backend) LogTrim(ctx context.Context, mailboxID string) (store.LogTrimState, error) {
	t, err := b.logTrimRow(ctx, mailboxID)
	return t.LogTrimState, err
}

// logTrimRow is a row of logtrim.
type logTrimRow struct {
	store.LogTrimState
	floorBucket, low int64
}

func (b *Backend) logTrimRow(ctx context.Context, mailboxID string) (logTrimRow, error) {
	var floor, floorBucket, low, markModSeq *int64
	var markAt *time.Time
	ok, err := b.get(ctx, b.meta, "read change-log trim state", b.q.trimGet, []any{mailboxID}, &floor, &floorBucket, &low, &markModSeq, &markAt)
	var t logTrimRow
	if err != nil || !ok {
		return t, err
	}
	if floor != nil {
		t.Floor = mail.ModSeq(*floor)
	}
	if floorBucket != nil {
		t.floorBucket = *floorBucket
	}
	if low != nil {
		t.low = *low
	}
	if markModSeq != nil && markAt != nil {
		t.Mark = store.LogMark{ModSeq: mail.ModSeq(*markModSeq), At: *markAt}
	}
	return t, nil
}

// TrimLog implements store.LogTrimmer. A dry run reads what a trim
// reads, writes nothing, and counts what the trim would drop.
func (b *Backend) TrimLog(ctx context.Context, mailboxID string, r store.TrimRequest) (store.TrimCounts, error) {
	var n store.TrimCounts
	t, err := b.logTrimRow(ctx, mailboxID)
	if err != nil {
		return n, err
	}
	if r.Upto > t.Floor {
		var first, bk int64
		found, err := b.get(ctx, b.meta, "read change log", b.q.bucketAt, []any{mailboxID, int64(r.Upto)}, &first, &bk)
		if err != nil {
			return n, err
		}
		if found && mail.ModSeq(first-1) > t.Floor && bk > t.floorBucket {
			t.Floor, t.floorBucket = mail.ModSeq(first-1), bk
			if !r.DryRun {
				if err := b.execDurable(ctx, b.meta, "record the change log's floor", b.q.trimFloor, int64(t.Floor), bk, mailboxID); err != nil {
					return n, err
				}
			}
		}
	}
	if t.low < t.floorBucket {
		if err := b.dropBuckets(ctx, mailboxID, t.low, t.floorBucket, int64(t.Floor)+1, r.DryRun, &n); err != nil {
			return n, err
		}
	}
	if t.Floor > 0 {
		if n.Expunged, err = b.dropExpunged(ctx, mailboxID, int64(t.Floor), rangesPerTrim(r.History), r.DryRun); err != nil {
			return n, err
		}
	}
	if r.DryRun {
		return n, nil
	}
	err = b.exec(ctx, b.meta, b.write, "record the change log's trim", b.q.trimMark, t.floorBucket, int64(r.Next.ModSeq), r.Next.At, mailboxID)
	return n, err
}

// dropBuckets drops the log buckets lo to hi-1, with their spilled
// metadata, then the mbbuckets rows below first (the first MODSEQ of hi),
// counting the buckets and their entries in n (a dry run only counts).
func (b *Backend) dropBuckets(ctx context.Context, mailboxID string, lo, hi, first int64, dryRun bool, n *store.TrimCounts) error {
	del := func(op, stmt string, args ...any) error {
		if dryRun {
			return nil
		}
		return b.exec(ctx, b.meta, b.del, op, stmt, args...)
	}
	for bk := lo; bk < hi; bk++ {
		k, err := b.dropSpills(ctx, mailboxID, bk, dryRun)
		n.Entries += k
		if err != nil {
			return err
		}
		if err := del("drop a trimmed log bucket", b.q.dropLog, mailboxID, bk); err != nil {
			return err
		}
		n.Buckets++
	}
	return del("drop the index rows of trimmed log buckets", b.q.trimBuckets, mailboxID, first)
}

var _ store.LogTrimmer = (*Backend)(nil)
