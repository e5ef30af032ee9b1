package cassandra

import (
	"context"
	"errors"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// The fence of a log bucket: a "not landed" verdict is final.
//
// Settling reads an uncertain commit's first log row at serial
// consistency, which completes or supersedes any Paxos round of it that
// has begun. A request that has not begun one (queued on a coordinator
// that was paused, or partitioned, when it timed out) can still begin a
// round after that read, with a newer ballot, and land if its condition
// holds, after its caller was told "not landed" and committed again: one
// message twice. So each bucket has a static column fence, null until
// first fenced and then strictly rising (g to g+1, by a conditional
// write IF fence = g), and every commit carries, in its condition, the
// fence it read with the head (IF head_modseq = ? AND sealed = false AND
// fence = ?). A verdict of "not landed" is only given after the fence
// was advanced, and after a second serial read behind it:
//
//   - the fence f a commit carries was read before it was sent, and the
//     value g that settling reads after it timed out; fences only rise,
//     so f <= g;
//   - the advance writes g+1 IF fence = g; if another advance got there
//     first, the fence is past g too. Either way, from then on the fence
//     is above f, and a Paxos round of the commit that begins later
//     compares against it (a round compares against the state its
//     ballot follows) and fails: the commit can never land after;
//   - the advance is itself a Paxos round, committed with a newer ballot
//     than any the commit could have had accepted, so a proposal of it
//     accepted by some replicas before is either completed by the
//     advance's own round (and then landed is seen by the read behind
//     it) or superseded for good;
//   - the read behind the fence then sees whether the commit landed
//     before it, and nothing can change that answer.
//
// A landed verdict needs no fence: a landed commit stays landed. The
// fence costs two round trips (the serial read of the fence and the
// advance), only on the path of a commit whose first read-back said "not
// landed", and one conflict for each other commit in flight on the same
// bucket, which reads the head (and the fence) again.

// fenced returns check, the serial read that settles an uncertain commit
// to the log bucket (mailboxID, bucket), made final: when it says "not
// landed", the bucket's fence is advanced and check runs again behind it.
func (b *Backend) fenced(mailboxID string, bucket int64, check settleFunc) settleFunc {
	return func(ctx context.Context, c gocql.Consistency) (bool, error) {
		landed, err := check(ctx, c)
		if errors.Is(err, gocql.ErrNotFound) {
			landed, err = false, nil
		}
		if err != nil || landed {
			return landed, err
		}
		if err := b.fence(ctx, c, mailboxID, bucket); err != nil {
			return false, err
		}
		return check(ctx, c)
	}
}

// fence advances the fence of a log bucket: it reads the fence at serial
// consistency c and writes the next value IF it is still the one read. Not
// applied means another advance moved it past the value read, which is as
// good. An unknown outcome is an error, for settle to retry: a fence
// write that lands late only raises the fence again. A bucket that does
// not exist (a mailbox purged) has nothing to fence: no commit to it can
// land.
func (b *Backend) fence(ctx context.Context, c gocql.Consistency, mailboxID string, bucket int64) error {
	st, ok, err := b.readBucket(ctx, c, mailboxID, bucket)
	if err != nil || !ok {
		return err
	}
	return b.do(ctx, b.write, "fence the log of mailbox "+mailboxID, b.durable, never, func(wc gocql.Consistency) error {
		b.lwts.Add(1)
		_, err := b.send(ctx, sent{stmt: b.q.fenceSet, c: wc, cas: true}, func() (bool, error) {
			return b.meta.Query(b.q.fenceSet, st.fence+1, mailboxID, bucket, fenceArg(st.fence)).
				Consistency(wc).SerialConsistency(c).MapScanCASContext(ctx, map[string]any{})
		})
		return err
	})
}

// fenceArg binds a fence in a condition: 0, a bucket never fenced, is the
// column's null.
func fenceArg(f int64) any {
	if f == 0 {
		return nil
	}
	return f
}
