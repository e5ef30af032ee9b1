package cassandra

import (
	"context"
	"hash/fnv"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
)

// The index queue is ms_mbox.index_queue, partitioned by affinity group
// and one of queueBuckets buckets (by user), so that no partition grows
// with the whole group. A mark's write timestamp is its time, and a clear
// is a delete at the time given: Cassandra keeps a mark written after it.
// The hosts' clocks must agree to within the indexer's margin (NTP).

const queueBuckets = 16

func queueBucket(userID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return int(h.Sum32() % queueBuckets)
}

// MarkUnindexed implements store.IndexQueue.
func (b *Backend) MarkUnindexed(ctx context.Context, p store.Unindexed) error {
	return b.exec(ctx, b.meta, b.write, "mark "+p.MailboxID+" unindexed", b.q.queueMark,
		p.Group, queueBucket(p.UserID), p.UserID, p.MailboxID, p.Marked.UTC(), p.Marked.UnixMicro())
}

// Unindexed implements store.IndexQueue.
func (b *Backend) Unindexed(ctx context.Context, group string, fn func(store.Unindexed) error) error {
	for bucket := range queueBuckets {
		var marks []store.Unindexed
		err := b.scan(ctx, b.meta, "list unindexed mailboxes", b.q.queueList, []any{group, bucket}, func() { marks = marks[:0] },
			func(sc gocql.Scanner) error {
				u := store.Unindexed{Group: group}
				if err := sc.Scan(&u.UserID, &u.MailboxID, &u.Marked); err != nil {
					return err
				}
				marks = append(marks, u)
				return nil
			})
		if err != nil {
			return err
		}
		for _, m := range marks {
			if err := fn(m); err != nil {
				return err
			}
		}
	}
	return nil
}

// ClearUnindexed implements store.IndexQueue.
func (b *Backend) ClearUnindexed(ctx context.Context, p store.Unindexed, before time.Time) error {
	return b.exec(ctx, b.meta, b.write, "clear the index mark of "+p.MailboxID, b.q.queueClear,
		before.UnixMicro(), p.Group, queueBucket(p.UserID), p.UserID, p.MailboxID)
}
