package cassandra

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// The uncertain-writes ledger (store.UncertainLedger). A Commit whose
// outcome stays unknown (settle failed within the caller's deadline)
// records each of its appends twice before it returns:
//
//	uncertain      ((mailbox_id), blob, cid) -> bucket, modseq, probe, uid, recorded, landed
//	uncertain_todo ((shard), mailbox_id, blob, cid) -> the same, without landed
//
// The first is what a retried delivery of the same body (blob, its content
// hash) to the same mailbox reads: one partition per mailbox, so the read
// every delivery makes is spread like the mailboxes. The second is what
// the background pass lists: ledgerShards partitions, so it never scans
// the table. (bucket, modseq, probe) locate the commit's first log row,
// which carries the commit id cid; a SERIAL read of it settles the entry
// for good. An entry whose commit landed stays, marked landed, so that
// every later retry answers "delivered" without a second copy; one that
// did not land is deleted. Both tables expire rows after ledgerKeep.
const (
	ledgerShards = 16
	// ledgerKeep bounds how long an entry lives: longer than MTAs retry a
	// delivery (5 days by default in Postfix, Exim and Sendmail).
	ledgerKeep = 7 * 24 * time.Hour
)

func ledgerShard(mailboxID string) int {
	h := fnv.New32a()
	h.Write([]byte(mailboxID))
	return int(h.Sum32() % ledgerShards)
}

// ledgerEntry is one uncertain append.
type ledgerEntry struct {
	mailboxID, blob            string
	cid                        []byte
	bucket, modseq, probe, uid int64
	recorded                   time.Time
	landed                     bool
}

// recordUncertain records the appends of an uncertain commit (es, tagged
// cid, in bucket) in the ledger, and returns the error Commit returns:
// cause, which says the outcome is unknown, and whether the ledger holds it.
func (b *Backend) recordUncertain(ctx context.Context, mailboxID string, bucket int64, es []entry, cid []byte, cause error) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.RequestTimeout)
	defer cancel()
	var errs []error
	n := 0
	for _, e := range es {
		if e.kind != store.ChangeAppend {
			continue
		}
		n++
		le := ledgerEntry{mailboxID: mailboxID, blob: e.blob, cid: cid, bucket: bucket, modseq: es[0].modseq,
			probe: es[0].uid, uid: e.uid, recorded: time.Now().UTC().Truncate(time.Millisecond)}
		if err := b.putLedger(wctx, le); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := b.exec(wctx, b.meta, b.write, "record an uncertain commit", b.q.todoInsert, ledgerShard(mailboxID),
			le.mailboxID, le.blob, le.cid, le.bucket, le.modseq, le.probe, le.uid, le.recorded); err != nil {
			// The retry still finds the entry; only the background pass
			// will not, and it expires after ledgerKeep.
			b.log.Warn("cassandra: uncertain-writes ledger: record for the background pass", "mailbox", mailboxID, "uid", e.uid, "err", err)
		}
	}
	if n == 0 {
		return cause
	}
	if err := errors.Join(errs...); err != nil {
		b.log.Error("cassandra: an uncertain commit is NOT in the uncertain-writes ledger: a retry may store its messages twice",
			"mailbox", mailboxID, "bucket", bucket, "modseq", es[0].modseq, "uid", es[0].uid, "err", err)
		return fmt.Errorf("%w; recording it in the uncertain-writes ledger failed too: %w", cause, err)
	}
	b.log.Warn("cassandra: an uncertain commit is recorded in the uncertain-writes ledger",
		"mailbox", mailboxID, "modseq", es[0].modseq, "uid", es[0].uid, "appends", n)
	return fmt.Errorf("%w; recorded in the uncertain-writes ledger: a retry of the same delivery settles it", cause)
}

func (b *Backend) putLedger(ctx context.Context, le ledgerEntry) error {
	return b.exec(ctx, b.meta, b.write, "record an uncertain commit", b.q.ledgerInsert,
		le.mailboxID, le.blob, le.cid, le.bucket, le.modseq, le.probe, le.uid, le.recorded, le.landed)
}

// SettleDelivery implements store.UncertainLedger.
func (b *Backend) SettleDelivery(ctx context.Context, mailboxID string, blob store.BlobID) (store.Settled, error) {
	var found []ledgerEntry
	err := b.scan(ctx, b.meta, "read the uncertain-writes ledger", b.q.ledgerGet, []any{mailboxID, string(blob)},
		func() { found = found[:0] },
		func(sc gocql.Scanner) error {
			le := ledgerEntry{mailboxID: mailboxID, blob: string(blob)}
			var landed *bool
			if err := sc.Scan(&le.cid, &le.bucket, &le.modseq, &le.probe, &le.uid, &le.recorded, &landed); err != nil {
				return err
			}
			le.landed = landed != nil && *landed
			found = append(found, le)
			return nil
		})
	if err != nil {
		return store.Settled{}, err
	}
	var out store.Settled
	for _, le := range found {
		landed, err := b.settleEntry(ctx, le)
		if err != nil {
			return store.Settled{}, err
		}
		if landed && !out.Landed {
			out = store.Settled{Landed: true, UID: mail.UID(le.uid), ModSeq: mail.ModSeq(le.modseq)}
		}
	}
	return out, nil
}

// settleEntry settles one ledger entry: it reads the commit's first log row
// at SERIAL (unless the entry is settled as landed already), keeps the
// entry marked landed or deletes it, and clears it from the background
// pass's list. Failures to write the outcome are logged: the next reader
// settles the entry again, to the same answer.
func (b *Backend) settleEntry(ctx context.Context, le ledgerEntry) (bool, error) {
	if le.landed {
		return true, nil
	}
	landed, err := b.settle(ctx, "settle an uncertain commit", errors.New("recorded in the uncertain-writes ledger"),
		b.fenced(le.mailboxID, le.bucket, func(ctx context.Context, c gocql.Consistency) (bool, error) {
			return b.logRowIs(ctx, c, le.mailboxID, le.bucket, le.modseq, le.probe, le.cid)
		}))
	if err != nil {
		return false, err
	}
	if landed {
		le.landed = true
		err = b.putLedger(ctx, le)
	} else {
		err = b.exec(ctx, b.meta, b.del, "delete an uncertain-writes ledger entry", b.q.ledgerDelete, le.mailboxID, le.blob, le.cid)
	}
	if err == nil {
		err = b.exec(ctx, b.meta, b.del, "delete an uncertain-writes ledger entry", b.q.todoDelete,
			ledgerShard(le.mailboxID), le.mailboxID, le.blob, le.cid)
	}
	if err != nil {
		b.log.Warn("cassandra: uncertain-writes ledger: record an outcome", "mailbox", le.mailboxID, "uid", le.uid, "landed", landed, "err", err)
	}
	b.log.Info("cassandra: uncertain-writes ledger: settled", "mailbox", le.mailboxID, "uid", le.uid, "landed", landed,
		"age", time.Since(le.recorded).Round(time.Second))
	return landed, nil
}

// SettleLedger implements store.UncertainLedger. It stops at the first
// entry it cannot settle: the cluster that failed it will fail the rest.
func (b *Backend) SettleLedger(ctx context.Context, limit int) (settled, unknown int, err error) {
	for shard := 0; shard < ledgerShards && settled < limit; shard++ {
		var todo []ledgerEntry
		err := b.scan(ctx, b.meta, "list the uncertain-writes ledger", b.q.todoList, []any{shard, limit - settled},
			func() { todo = todo[:0] },
			func(sc gocql.Scanner) error {
				var le ledgerEntry
				if err := sc.Scan(&le.mailboxID, &le.blob, &le.cid, &le.bucket, &le.modseq, &le.probe, &le.uid, &le.recorded); err != nil {
					return err
				}
				todo = append(todo, le)
				return nil
			})
		if err != nil {
			return settled, unknown, err
		}
		for i, le := range todo {
			if _, err := b.settleEntry(ctx, le); err != nil {
				return settled, unknown + len(todo) - i, err
			}
			settled++
		}
	}
	return settled, 0, nil
}

var _ store.UncertainLedger = (*Backend)(nil)
