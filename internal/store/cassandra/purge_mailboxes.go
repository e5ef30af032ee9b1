package cassandra

import (
	"context"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
)

// A deleted mailbox's rows (store.MailboxPurger). DeleteMailbox and
// DeleteUser list the mailbox in gone_mailboxes ((shard), mailbox_id)
// before they delete its record and seal its log gone; the purge drops,
// once the grace has passed since, every partition keyed by the mailbox:
// its metaspill rows (found in its log), its msgs and msgmeta partitions
// (UID buckets up to its UIDNEXT), its uncertain-writes ledger, mbbuckets
// and mbcur, then its log buckets, and last its gone_mailboxes row. Every
// delete is a partition delete (one tombstone per partition; a metaspill
// row is a partition), at the current time, which shadows the rows
// written USING TIMESTAMP <modseq> or <bucket> by a materialization that
// runs late.
//
// The first purge of a mailbox walks its log to the bucket its deletion
// sealed and records that bucket and UIDNEXT in gone_mailboxes before it
// deletes anything, so a purge stopped midway and run again deletes the
// same partitions. A mailbox listed whose log is not sealed gone (its
// deletion failed after listing it) is kept, and unlisted after the grace.

// goneShards partitions gone_mailboxes, as ledgerShards does the ledger.
const goneShards = 16

// listGone lists mailboxID for the purge, before its deletion.
func (b *Backend) listGone(ctx context.Context, mailboxID string) error {
	return b.exec(ctx, b.meta, b.write, "list a deleted mailbox for the purge", b.q.goneInsert,
		ledgerShard(mailboxID)%goneShards, mailboxID, time.Now().UTC().Truncate(time.Millisecond))
}

// goneMailbox is a row of gone_mailboxes.
type goneMailbox struct {
	id            string
	deleted       time.Time
	last, uidnext int64
	located       bool // last and uidnext recorded
}

// PurgeMailboxes implements store.MailboxPurger.
func (b *Backend) PurgeMailboxes(ctx context.Context, deletedBefore time.Time) (int64, error) {
	var n int64
	for shard := range goneShards {
		var gone []goneMailbox
		err := b.scan(ctx, b.meta, "list deleted mailboxes", b.q.goneList, []any{shard}, func() { gone = gone[:0] },
			func(sc gocql.Scanner) error {
				var g goneMailbox
				var last, uidnext *int64
				if err := sc.Scan(&g.id, &g.deleted, &last, &uidnext); err != nil {
					return err
				}
				if last != nil && uidnext != nil {
					g.last, g.uidnext, g.located = *last, *uidnext, true
				}
				gone = append(gone, g)
				return nil
			})
		if err != nil {
			return n, err
		}
		for _, g := range gone {
			if g.deleted.After(deletedBefore) {
				continue
			}
			dropped, err := b.purgeMailbox(ctx, shard, g)
			if err != nil {
				return n, fmt.Errorf("cassandra: purge deleted mailbox %s: %w", g.id, err)
			}
			if dropped {
				n++
			}
		}
	}
	return n, nil
}

// purgeMailbox drops a deleted mailbox's partitions, and reports whether
// it did (false: the mailbox is not deleted after all).
func (b *Backend) purgeMailbox(ctx context.Context, shard int, g goneMailbox) (bool, error) {
	if !g.located {
		last, uidnext, gone, err := b.locateGone(ctx, g.id)
		if err != nil {
			return false, err
		}
		if !gone {
			b.log.Warn("cassandra: purge: a mailbox listed as deleted is not: its deletion failed; unlisting it", "mailbox", g.id)
			return false, b.exec(ctx, b.meta, b.del, "unlist a mailbox", b.q.goneDelete, shard, g.id)
		}
		g.last, g.uidnext = last, uidnext
		if err := b.exec(ctx, b.meta, b.write, "record a deleted mailbox's extent", b.q.goneSet, g.last, g.uidnext, shard, g.id); err != nil {
			return false, err
		}
	}
	del := func(op, stmt string, args ...any) error { return b.exec(ctx, b.meta, b.del, op, stmt, args...) }
	trim, err := b.logTrimRow(ctx, g.id)
	if err != nil {
		return false, err
	}
	low := trim.low // buckets below low are trimmed already (logtrim.go)
	for bk := low; bk <= g.last; bk++ {
		if _, err := b.dropSpills(ctx, g.id, bk, false); err != nil {
			return false, err
		}
	}
	for ub := int64(0); ub <= ubucket(max(g.uidnext-1, 0)); ub++ {
		if err := del("drop message states", b.q.dropMsgs, g.id, ub); err != nil {
			return false, err
		}
		if err := del("drop message metadata", b.q.dropMeta, g.id, ub); err != nil {
			return false, err
		}
	}
	for _, stmt := range []string{b.q.dropLedger, b.q.dropBuckets, b.q.dropCur, b.q.trimDrop} {
		if err := del("drop a deleted mailbox's rows", stmt, g.id); err != nil {
			return false, err
		}
	}
	for bk := low; bk <= g.last; bk++ {
		if err := del("drop a log bucket", b.q.dropLog, g.id, bk); err != nil {
			return false, err
		}
	}
	b.heads.drop(g.id)
	return true, del("unlist a purged mailbox", b.q.goneDelete, shard, g.id)
}

// dropSpills drops the spilled metadata the entries of log bucket bk
// point at (with dryRun, nothing), and returns how many entries the
// bucket holds.
func (b *Backend) dropSpills(ctx context.Context, mailboxID string, bk int64, dryRun bool) (int64, error) {
	var n int64
	var spills [][]byte
	err := b.readLog(ctx, mailboxID, bk, 0, 0, func(e entry) error {
		n++
		if e.metaID != nil {
			spills = append(spills, e.metaID)
		}
		return nil
	})
	if err != nil || dryRun {
		return n, err
	}
	for _, id := range spills {
		if err := b.exec(ctx, b.meta, b.del, "drop spilled metadata", b.q.dropSpill, mailboxID, id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// locateGone follows a mailbox's log from its current bucket hint to the
// bucket its deletion sealed, and returns that bucket, the mailbox's
// UIDNEXT, and whether the log is sealed gone (false: the mailbox lives,
// or never had a log).
func (b *Backend) locateGone(ctx context.Context, mailboxID string) (last, uidnext int64, gone bool, err error) {
	var bk int64
	if _, err := b.get(ctx, b.meta, "read mailbox head", b.q.curGet, []any{mailboxID}, &bk); err != nil {
		return 0, 0, false, err
	}
	for ctx.Err() == nil {
		st, ok, err := b.readBucket(ctx, b.read.primary, mailboxID, bk)
		switch {
		case err != nil:
			return 0, 0, false, err
		case !ok:
			return 0, 0, false, nil
		case st.gone:
			return bk, int64(st.head.UIDNext), true, nil
		case !st.sealed:
			return 0, 0, false, nil
		}
		bk++
	}
	return 0, 0, false, ctx.Err()
}

var _ store.MailboxPurger = (*Backend)(nil)
