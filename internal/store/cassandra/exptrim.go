package cassandra

import (
	stdcmp "cmp"
	"context"
	"slices"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// The materialized rows of expunged messages. An expunge marks the
// message's msgs row (expunged = true, with the expunge's MODSEQ) and
// leaves its msgmeta row, for Expunged (RFC 2180 4.1.1: a session that
// has not seen the expunge yet may still fetch the message). Once the log
// floor has passed the expunge, no reader needs them: a session whose
// view still holds the message has a MODSEQ below the floor, its refresh
// fails with store.ErrLogTrimmed and it resynchronizes from the live rows
// (an expunged message is one without a live row), as a QRESYNC client
// from below the floor does. So TrimLog drops them, as the embedded
// backend drops its expunged rows with the log.
//
// Every entry at or below the floor is materialized (the floor is the end
// of a sealed bucket, and a bucket is sealed only after its entries are
// materialized), so each such expunge has its row. The trim reads the
// mailbox's msgs partitions ((mailbox_id, ubucket): 8,192 UIDs each) and
// deletes runs of consecutive UIDs whose rows it read as expunged at or
// below the floor, one range deletion per run in msgmeta, then the same
// in msgs (a trim stopped between leaves the msgs rows, which the next
// trim finds again). A run covers only UIDs read as expunged: a UID
// without a row in the read (a row already dropped, or one the read
// missed) ends the run, so a range never covers a live message. The
// deletes carry the current time, which shadows a late materialization of
// the same rows (written USING TIMESTAMP <modseq>); a UID is never used
// again, so nothing later is written under it.
//
// Tombstones: a range deletion is one range tombstone, counted as two
// tombstones (its bounds) by every read of the partition, and Messages
// reads whole partitions. Per partition, a trim deletes at most
// rangesPerTrim(history) runs, the longest first; trims of a mailbox are
// at least the history apart, so within gc_grace_seconds (10 days, as the
// tables are created) a partition holds at most partitionRanges (250)
// range tombstones: 500 counted, half tombstone_warn_threshold (1,000),
// far under tombstone_failure_threshold (100,000). Runs left over wait
// for the next trim (with a history of 30 days, 250 runs a trim; of a
// day, 22; of an hour, one).

// gcGrace is the tables' gc_grace_seconds (Cassandra's default; the
// schema does not set it): how long a tombstone is read before
// compaction may drop it.
const gcGrace = 10 * 24 * time.Hour

// partitionRanges bounds the range tombstones the expunged rows' trim
// leaves in one msgs or msgmeta partition within gcGrace.
const partitionRanges = 250

// rangesPerTrim is how many runs of expunged rows a trim may delete per
// partition, with trims at least history apart (0: an hour, the least).
func rangesPerTrim(history time.Duration) int {
	history = max(history, time.Hour)
	return max(1, partitionRanges/(int(gcGrace/history)+1))
}

// uidRun is a run of consecutive UIDs, lo to hi.
type uidRun struct{ lo, hi int64 }

// dropExpunged drops the rows of messages expunged at or below floor, at
// most perPartition runs per UID partition (with dryRun, it only counts),
// and returns how many messages' rows it dropped.
func (b *Backend) dropExpunged(ctx context.Context, mailboxID string, floor int64, perPartition int, dryRun bool) (int64, error) {
	st, err := b.current(ctx, mailboxID)
	if err != nil {
		return 0, err
	}
	var n int64
	for ub := int64(0); ub <= ubucket(max(int64(st.head.UIDNext)-1, 0)); ub++ {
		runs, err := b.expungedRuns(ctx, mailboxID, ub, floor)
		if err != nil {
			return n, err
		}
		slices.SortFunc(runs, func(x, y uidRun) int {
			return stdcmp.Or(stdcmp.Compare(y.hi-y.lo, x.hi-x.lo), stdcmp.Compare(x.lo, y.lo))
		})
		for _, r := range runs[:min(len(runs), perPartition)] {
			if !dryRun {
				for _, stmt := range []string{b.q.expDropMeta, b.q.expDrop} {
					if err := b.exec(ctx, b.meta, b.del, "drop the rows of expunged messages", stmt, mailboxID, ub, r.lo, r.hi); err != nil {
						return n, err
					}
				}
			}
			n += r.hi - r.lo + 1
		}
	}
	return n, nil
}

// expungedRuns reads the msgs partition ub of a mailbox and returns its
// runs of consecutive UIDs whose rows are expunged at or below floor.
func (b *Backend) expungedRuns(ctx context.Context, mailboxID string, ub, floor int64) ([]uidRun, error) {
	var runs []uidRun
	open := false // the last row read extends runs[len(runs)-1]
	err := b.scan(ctx, b.meta, "read expunged messages", b.q.expScan, []any{mailboxID, ub}, func() { runs, open = nil, false },
		func(sc gocql.Scanner) error {
			var uid int64
			var modseq *int64
			var expunged *bool
			if err := sc.Scan(&uid, &modseq, &expunged); err != nil {
				return err
			}
			if modseq == nil || expunged == nil || !*expunged || *modseq > floor {
				open = false
				return nil
			}
			if open && runs[len(runs)-1].hi == uid-1 {
				runs[len(runs)-1].hi = uid
			} else {
				runs = append(runs, uidRun{uid, uid})
			}
			open = true
			return nil
		})
	return runs, err
}
