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
	return fencedBy(func(ctx context.Context, c gocql.Consistency) error {
		return b.fence(ctx, c, mailboxID, bucket)
	}, check)
}

// fencedBy returns check made final by advance, which advances the fence
// that the settled write's condition carries.
func fencedBy(advance func(ctx context.Context, c gocql.Consistency) error, check settleFunc) settleFunc {
	return func(ctx context.Context, c gocql.Consistency) (bool, error) {
		landed, err := check(ctx, c)
		if errors.Is(err, gocql.ErrNotFound) {
			landed, err = false, nil
		}
		if err != nil || landed {
			return landed, err
		}
		if err := advance(ctx, c); err != nil {
			return false, err
		}
		landed, err = check(ctx, c)
		if errors.Is(err, gocql.ErrNotFound) {
			landed, err = false, nil
		}
		return landed, err
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
	return b.advanceFence(ctx, c, "the log of mailbox "+mailboxID, b.q.fenceSet, st.fence, mailboxID, bucket)
}

// advanceFence writes fence+1 IF the fence is still fence, by stmt, whose
// arguments are the new value, key, then the old value. Not applied is as
// good (see fence).
func (b *Backend) advanceFence(ctx context.Context, c gocql.Consistency, what, stmt string, fence int64, key ...any) error {
	args := append(append([]any{fence + 1}, key...), fenceArg(fence))
	var applied bool
	err := b.do(ctx, b.write, "fence "+what, b.durable, never, func(wc gocql.Consistency) error {
		b.lwts.Add(1)
		var err error
		applied, err = b.send(ctx, sent{stmt: stmt, c: wc, cas: true}, func() (bool, error) {
			return b.meta.Query(stmt, args...).Consistency(wc).SerialConsistency(c).MapScanCASContext(ctx, map[string]any{})
		})
		return err
	})
	if err == nil {
		// advanced false: another advance moved it past the value read.
		b.log.Info("cassandra: fenced "+what+": an uncertain write to it can no longer land",
			"fence_read", fence, "advanced", applied)
	}
	return err
}

// fenceRecords advances the fence of a user's mailbox records (the static
// column fence of the user's mailboxes partition), read at serial
// consistency c: a record insert that timed out can no longer land
// (insertRecord). The partition need not exist.
func (b *Backend) fenceRecords(ctx context.Context, c gocql.Consistency, userID string) error {
	var f *int64
	err := b.serialGet(ctx, c, b.q.mboxFenceGet, []any{userID}, &f)
	if err != nil && !errors.Is(err, gocql.ErrNotFound) {
		return err
	}
	var cur int64
	if f != nil {
		cur = *f
	}
	return b.advanceFence(ctx, c, "the mailbox records of user "+userID, b.q.mboxFenceSet, cur, userID)
}

// fenceArg binds a fence in a condition: 0, a bucket never fenced, is the
// column's null.
func fenceArg(f int64) any {
	if f == 0 {
		return nil
	}
	return f
}
