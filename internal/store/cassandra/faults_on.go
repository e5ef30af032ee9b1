//go:build quirefaults

package cassandra

import (
	"context"
	"strings"
	"sync/atomic"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
)

// Faults are the test-only fault switches of a Backend. They exist only in
// a build with the quirefaults tag (go test -tags quirefaults, or the
// concurrency checker's -break binary); the production build's hooks are
// constants (faults_off.go). Tests that need them live in files with the
// same tag and are named TestFault*, which scripts/test.sh runs.
type Faults struct {
	// SkipMaterialize commits the log but never materializes it, like a
	// host that crashes after each commit.
	SkipMaterialize bool
	// SerialHead reads heads at serial consistency.
	SerialHead bool
	// Pause, if set, runs between the reads of Messages.
	Pause func()
	// CAS, if set, runs before Commit's lightweight transaction: skip
	// leaves it unsent, and a non-nil err is returned as its outcome after
	// it ran (or instead of it): a reply lost, or a commit that never ran.
	CAS func() (skip bool, err error)
	// Settle, if set, runs before each read-back of an uncertain commit: a
	// non-nil error is that read's outcome (the read-back is unavailable).
	Settle func() error
	// UncheckedUIDs commits without the lightweight transaction's
	// condition, so hosts racing for a mailbox allocate the same UIDs and
	// overwrite each other's log rows. It proves that bench/checker
	// catches a broken allocation (quire serve of a quirefaults build sets
	// it from QUIRE_TEST_BREAK_UID_ALLOCATION=1).
	UncheckedUIDs bool
}

type faults struct{ p atomic.Pointer[Faults] }

// SetFaults replaces the backend's fault switches.
func (b *Backend) SetFaults(f Faults) { b.fault.p.Store(&f) }

func (f *faults) get() Faults {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return Faults{}
}

func (f *faults) skipMaterialize() bool { return f.get().SkipMaterialize }

func (f *faults) serialHead() bool { return f.get().SerialHead }

func (f *faults) pause() {
	if p := f.get().Pause; p != nil {
		p()
	}
}

func (f *faults) beforeCAS() (bool, error) {
	if c := f.get().CAS; c != nil {
		return c()
	}
	return false, nil
}

func (f *faults) beforeSettle() error {
	if s := f.get().Settle; s != nil {
		return s()
	}
	return nil
}

// commitUnchecked is Commit's batch without its condition: deliberately
// broken (see Faults.UncheckedUIDs).
func (f *faults) commitUnchecked(ctx context.Context, b *Backend, mailboxID string, st bucketState, next store.Head, es []entry) (bool, error) {
	if !f.get().UncheckedUIDs {
		return false, nil
	}
	stmt := strings.ReplaceAll(`UPDATE KS.mblog SET uidnext = ?, head_modseq = ?, messages = ?, unseen = ?, deleted = ?, size = ?, rows = ?
		WHERE mailbox_id = ? AND bucket = ?`, "KS.", b.opts.Meta.Name+".")
	bt := b.meta.Batch(gocql.LoggedBatch).Consistency(gocql.One)
	bt.Query(stmt, int64(next.UIDNext), int64(next.ModSeq), next.Messages, next.Unseen, next.Deleted, next.Size,
		st.rows+int64(len(es)), mailboxID, st.bucket)
	for _, e := range es {
		bt.Query(b.q.logInsert, mailboxID, st.bucket, e.modseq, e.uid, int8(e.kind), e.flags, e.meta, e.metaID, []byte(nil))
	}
	return true, bt.ExecContext(ctx)
}
