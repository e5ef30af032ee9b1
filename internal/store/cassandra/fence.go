package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
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
// (insertRecord). The partition need not exist. A sealed partition needs
// no advance: no record insert can land in it.
func (b *Backend) fenceRecords(ctx context.Context, c gocql.Consistency, userID string) error {
	f, err := b.serialFence(ctx, c, b.q.mboxFenceGet, userID)
	if err != nil || f == sealedFence {
		return err
	}
	return b.advanceFence(ctx, c, "the mailbox records of user "+userID, b.q.mboxFenceSet, f, userID)
}

// sealedFence is the fence of the mailbox records of a deleted user
// (DeleteUser seals them once the user's record is gone): the fence's
// last value. A record insert carries the fence it read in its condition
// (fencedCAS), and fencedCAS never sends one with this value, so once it
// is written no record insert lands in the partition, whenever it was
// sent; the fence advance (fenceRecords) leaves it. It is above every
// value an advance reaches (one a settled write), so fences still only
// rise.
const sealedFence int64 = math.MaxInt64

// errSealed is the error of a record insert into a sealed partition:
// its user was deleted.
var errSealed = fmt.Errorf("%w: its mailbox records are sealed (the user was deleted)", mail.ErrNoSuchUser)

// sealRecords writes sealedFence to the fence of userID's mailbox
// records, IF it is still the value read at serial consistency (a
// conditional write, like every write to the partition). A write whose
// outcome is unknown is an error: DeleteUser fails, and what a creation
// racing it may leave is the purge's (strays.go).
func (b *Backend) sealRecords(ctx context.Context, userID string) error {
	op := "seal the mailbox records of user " + userID
	for range fencedAttempts {
		f, err := b.serialFence(ctx, b.serial, b.q.mboxFenceGet, userID)
		if err != nil {
			return fmt.Errorf("cassandra: %s: %w", op, err)
		}
		if f == sealedFence {
			return nil
		}
		args := []any{sealedFence, userID, fenceArg(f)}
		var applied bool
		err = b.do(ctx, b.write, op, b.durable, never, func(wc gocql.Consistency) error {
			b.lwts.Add(1)
			var err error
			applied, err = b.send(ctx, sent{stmt: b.q.mboxFenceSet, c: wc, cas: true}, func() (bool, error) {
				return b.meta.Query(b.q.mboxFenceSet, args...).Consistency(wc).SerialConsistency(b.serial).MapScanCASContext(ctx, map[string]any{})
			})
			return err
		})
		if err != nil || applied {
			return err
		}
		// A fence advance moved it since the read: read it again.
	}
	return mail.Unavailable("cassandra: "+op, errors.New("the fence keeps moving"))
}

// fencedWrite is a conditional write whose condition carries the fence of
// its partition (... AND fence = ?), sent by fencedCAS: a mailbox record
// insert (insertRecord), or a write to a user's record (users.go).
type fencedWrite struct {
	op string
	// stmt returns the statement and its arguments for the fence f (0:
	// null, bound by fenceArg), which it binds last.
	stmt func(f int64) (string, []any)
	// readFence reads the partition's fence (0: null) at any level: a
	// stale value only costs a condition that fails on the fence and
	// returns the current one.
	readFence func(ctx context.Context) (int64, error)
	// advance advances the fence, read at serial consistency c.
	advance func(ctx context.Context, c gocql.Consistency) error
	// landed reads at serial consistency c whether the write landed.
	landed settleFunc
	// failed says, of a write whose condition failed on another column
	// than the fence (cur: the current values), whether it is done all
	// the same (an earlier attempt of it landed).
	failed func(cur map[string]any) bool
}

// fencedAttempts bounds fencedCAS's attempts: sends that settled as never
// run, and conditions that failed on a fence another writer moved.
const fencedAttempts = 8

// fencedCAS sends w, with the fence read first, and returns whether it
// applied. An attempt whose outcome is unknown is settled behind a fence
// advance (fencedBy), so one still queued on a silent coordinator can
// never land after the verdict "not landed", whatever was written since.
// An attempt that never ran is sent again with the fence read afresh; one
// refused because the fence moved likewise, with the fence it returns.
// Unlike cas, a resend refused by its other conditions needs no second
// settle: an earlier attempt cannot have landed after its verdict.
func (b *Backend) fencedCAS(ctx context.Context, w fencedWrite) (bool, error) {
	f, err := w.readFence(ctx)
	if err != nil {
		return false, err
	}
	for attempt := 1; ; attempt++ {
		if f == sealedFence {
			// Never sent with this fence: the condition would hold.
			return false, fmt.Errorf("cassandra: %s: %w", w.op, errSealed)
		}
		stmt, args := w.stmt(f)
		cur := map[string]any{}
		var applied bool
		err := b.do(ctx, b.write, w.op, b.durable, never, func(c gocql.Consistency) error {
			b.lwts.Add(1)
			var err error
			applied, err = b.send(ctx, sent{stmt: stmt, c: c, cas: true}, func() (bool, error) {
				return b.meta.Query(stmt, args...).Consistency(c).SerialConsistency(b.serial).MapScanCASContext(ctx, cur)
			})
			return err
		})
		switch {
		case err == nil && applied:
			return true, nil
		case err == nil:
			// A partition that does not exist returns no fence: null.
			nf, _ := cur["fence"].(int64)
			if nf == f {
				return w.failed(cur), nil
			}
			f = nf // the fence moved since it was read
		case refused(err):
			return false, err
		default:
			landed, serr := b.settle(ctx, w.op, err, fencedBy(w.advance, w.landed))
			if serr != nil || landed {
				return landed, serr
			}
			if f, err = w.readFence(ctx); err != nil { // advanced: read it again
				return false, err
			}
		}
		if attempt == fencedAttempts || ctx.Err() != nil {
			return false, mail.Unavailable("cassandra: "+w.op, fmt.Errorf("not written in %d attempts", attempt))
		}
	}
}

// readFence reads a fence (a bigint column, 0 for null) by stmt.
func (b *Backend) readFence(ctx context.Context, op, stmt string, args ...any) (int64, error) {
	var f *int64
	if _, err := b.get(ctx, b.meta, op, stmt, args, &f); err != nil || f == nil {
		return 0, err
	}
	return *f, nil
}

// serialFence reads a fence at serial consistency c; a partition that
// does not exist has a null fence, 0.
func (b *Backend) serialFence(ctx context.Context, c gocql.Consistency, stmt string, args ...any) (int64, error) {
	var f *int64
	err := b.serialGet(ctx, c, stmt, args, &f)
	if errors.Is(err, gocql.ErrNotFound) || err == nil && f == nil {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return *f, nil
}

// fenceArg binds a fence in a condition: 0, a bucket never fenced, is the
// column's null.
func fenceArg(f int64) any {
	if f == 0 {
		return nil
	}
	return f
}
