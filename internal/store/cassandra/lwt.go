package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
)

// settleFunc reads, at serial consistency c, whether an uncertain
// conditional write landed.
type settleFunc func(ctx context.Context, c gocql.Consistency) (landed bool, err error)

// casAttempts bounds how often cas sends a conditional write that
// settling proved never ran.
const casAttempts = 3

// cas runs one conditional statement on ms_mbox, committing at the write
// class's level but never below a quorum (Backend.durable: the Paxos round
// needed a quorum anyway, and a commit on one replica could be missed by
// the quorum reads that follow), and returns whether it applied and, if
// not, the current values. A failure that does not prove the statement was
// refused (see refused) leaves its outcome unknown, and settle decides it:
// landed is applied; not landed means it never ran, not that its condition
// failed, so it is sent again, up to casAttempts times. A coordinator that
// was paused can still run an earlier attempt later (fence.go; these
// writes have no fence): a resend whose condition fails is settled once
// more, and applied if the earlier attempt landed. Without settle, or if
// settling fails, or if it never ran in casAttempts, the error wraps
// mail.ErrUnavailable. A refusal for lack of replicas still moves the
// write class to its fallback level, for the next plain writes; a timeout
// does not.
func (b *Backend) cas(ctx context.Context, op, stmt string, args []any, settle settleFunc) (bool, map[string]any, error) {
	for attempt := 1; ; attempt++ {
		var applied bool
		var cur map[string]any
		err := b.do(ctx, b.write, op, b.durable, never, func(c gocql.Consistency) error {
			cur = map[string]any{}
			var err error
			b.lwts.Add(1)
			applied, err = b.send(ctx, sent{stmt: stmt, c: c, cas: true}, func() (bool, error) {
				return b.meta.Query(stmt, args...).Consistency(c).SerialConsistency(b.serial).MapScanCASContext(ctx, cur)
			})
			return err
		})
		if err == nil && !applied && attempt > 1 && settle != nil {
			// The condition failed on a resend: a first attempt that was
			// still queued on a silent coordinator may have landed since
			// ("not landed" below does not stop it: see fence.go), and
			// then this write is done, not refused.
			landed, serr := b.settle(ctx, op, errors.New("a resend was not applied"), settle)
			return landed, cur, serr
		}
		if err == nil || refused(err) {
			return applied, cur, err
		}
		if settle == nil {
			return false, nil, mail.Unavailable("cassandra: "+op, fmt.Errorf("outcome unknown: %w", err))
		}
		landed, serr := b.settle(ctx, op, err, settle)
		if serr != nil || landed {
			return landed, nil, serr
		}
		if attempt == casAttempts || ctx.Err() != nil {
			return false, nil, mail.Unavailable("cassandra: "+op, fmt.Errorf("not run after %d attempts: %w", attempt, err))
		}
	}
}

func never(error) bool { return false }

// LWTs returns how many lightweight transactions (Paxos rounds: conditional
// writes, each attempt counted) this backend has run, for the per-operation
// figures in docs/BENCHMARKS.md.
func (b *Backend) LWTs() int64 { return b.lwts.Load() }

// settle resolves the unknown outcome of a conditional write: settle reads
// at serial consistency, which also completes or supersedes the Paxos round
// left in flight, so its answer is final for that round; a request still
// queued on a silent coordinator (paused, partitioned) has no round yet,
// and may begin one later and land after a "not landed" verdict: a
// commit's settle function is fenced (fence.go) for that, and cas settles
// a resend refused by its condition again. It retries with backoff (20 ms
// doubling to 1 s) until settleDeadline, on a context of its own, since
// the caller's deadline may be what ended the write.
func (b *Backend) settle(ctx context.Context, op string, cause error, fn settleFunc) (bool, error) {
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), b.settleDeadline(ctx))
	defer cancel()
	// A caller that gives up (a shutdown) stops it; one past its deadline
	// does not.
	stop := context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), context.Canceled) {
			cancel()
		}
	})
	defer stop()
	var err error
	for wait := 20 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		var landed bool
		landed, err = fn(sctx, b.serial)
		if err == nil || errors.Is(err, gocql.ErrNotFound) {
			if errors.Is(err, gocql.ErrNotFound) {
				landed = false
			}
			b.log.Info("cassandra: settled an uncertain write", "op", op, "landed", landed, "cause", cause)
			return landed, nil
		}
		if !transient(err) {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-sctx.Done():
			t.Stop()
		case <-t.C:
		}
		if sctx.Err() != nil {
			break
		}
	}
	return false, mail.Unavailable("cassandra: "+op,
		fmt.Errorf("outcome unknown (%v), and reading it back at %s failed: %w: check that the nodes are up", cause, b.serial, wrap("settle", b.serial, err)))
}

// settleDeadline is when settling gives up: the caller's deadline (an LMTP
// delivery's lmtp.timeout) less one request timeout, kept for recording
// the commit in the uncertain-writes ledger, but at least one request
// timeout from now, so that one read-back always runs; without a deadline,
// three request timeouts from now.
func (b *Backend) settleDeadline(ctx context.Context) time.Time {
	rt := b.opts.RequestTimeout
	now := time.Now()
	d, ok := ctx.Deadline()
	if !ok {
		return now.Add(3 * rt)
	}
	return later(d.Add(-rt), now.Add(rt))
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// serialGet reads one row at serial consistency c (for settle functions).
// It is idempotent: two such reads racing complete the same Paxos round.
func (b *Backend) serialGet(ctx context.Context, c gocql.Consistency, stmt string, args []any, dest ...any) error {
	return b.sendErr(ctx, stmt, c, func() error {
		return b.meta.Query(stmt, args...).Consistency(c).Idempotent(true).SetSpeculativeExecutionPolicy(b.spec).ScanContext(ctx, dest...)
	})
}
