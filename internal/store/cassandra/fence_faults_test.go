//go:build quirefaults

package cassandra

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// lateCommit holds the first Commit of a backend on a "silent
// coordinator" (Held: the client times out, the batch has not run) and
// runs it later, when release says so, given each statement sent after
// the first SERIAL read-back that settled it began. It records what the
// held commit did when it ran.
type lateCommit struct {
	b       *Backend
	release func(Statement) bool

	mu       sync.Mutex
	held     bool
	readBack bool // the first read-back was sent
	released []Released
}

func (l *lateCommit) inject(s Statement) Fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.held && s.Commit():
		l.held = true
		return Held
	case l.held && !l.readBack && s.Serial():
		l.readBack = true
	case l.readBack && l.released == nil && l.release(s):
		// The paused node resumes: its queued request begins its Paxos
		// round now, before s is sent.
		l.released = l.b.ReleaseHeld()
	}
	return Pass
}

// fenceStep reports whether s is part of fencing a bucket: a serial read
// or the fence's conditional write.
func fenceStep(s Statement) bool {
	return s.Serial() || s.CAS && strings.Contains(s.CQL, "SET fence")
}

// TestFaultLateCommitFenced: a commit queued on a silent coordinator times
// out before its Paxos round began; settling reads it back at SERIAL and
// finds nothing; then the node resumes and the queued request runs. Before
// the fence, it landed after Commit had reported "not landed" (a
// conflict), and the Store, retrying on the head that now held it,
// appended the message a second time: INBOX held it twice (the partition
// scenario of the three-node cluster found a moved message twice in its
// destination). Now the verdict advances the bucket's fence first: a
// request released after the verdict is refused by its condition, and
// one released between the first read-back and the fence lands and is
// reported as landed by the read behind the fence. Either way one copy.
func TestFaultLateCommitFenced(t *testing.T) {
	for name, release := range map[string]func(Statement) bool{
		// Released when the Store, told "not landed", goes on: its retry
		// reads the head.
		"after the verdict": func(s Statement) bool { return !s.Background && !fenceStep(s) },
		// Released at the first statement after the first read-back
		// (with the fence: the fence's own serial read).
		"after the first read-back": func(s Statement) bool { return !s.Background },
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			b := openTest(t, nil)
			s := store.New(b, store.Options{})
			mb := newMailbox(t, b)
			l := &lateCommit{b: b, release: release}
			b.SetFaults(Faults{Inject: l.inject})
			meta := testMeta(1, 300)
			uids, err := s.Append(ctx, store.User{}, mb, store.NewMessage{Blob: meta.Blob, Size: meta.Size, Structure: meta.Structure})
			b.SetFaults(Faults{})
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			l.mu.Lock()
			released := l.released
			l.mu.Unlock()
			if len(released) != 1 || !released[0].Statement.Commit() {
				t.Fatalf("released %+v; want the held commit, released once", released)
			}
			rows, _ := collect(t, b, mb.ID)
			var have []mail.UID
			for _, r := range rows {
				have = append(have, r.UID)
			}
			if len(have) != 1 || len(uids) != 1 || have[0] != uids[0] {
				t.Fatalf("Append returned UIDs %v, and the mailbox holds UIDs %v; want the one appended, once (the held commit applied late: %v)",
					uids, have, released[0].Applied)
			}
			check(t, b, mb.ID)
			// Whichever copy landed, the mailbox takes the next commit.
			if _, err := appendOne(ctx, b, mb.ID); err != nil {
				t.Fatalf("a commit after the fence: %v", err)
			}
			check(t, b, mb.ID)
		})
	}
}

// TestFaultLateCommitAfterLedgerSettled: the same late request, settled
// by the uncertain-writes ledger: the commit's read-backs fail for its
// whole deadline, so Commit records it and fails; a retry's
// SettleDelivery then reads it back as not landed, and deletes the entry
// (the retry will commit the message). Then the queued request runs.
// Before the fence it landed: "not landed", and the message in the
// mailbox, which the retry would have stored a second time.
func TestFaultLateCommitAfterLedgerSettled(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, func(o *Options) { o.RequestTimeout = time.Second })
	mb := newMailbox(t, b)
	b.SetFaults(Faults{Inject: commitAndSettle(Held, unavailable)})
	h, _ := b.Head(ctx, mb.ID)
	meta := testMeta(h.UIDNext, 200)
	next, c := nextAppend(h, meta)
	// No deadline: settling gives up after three request timeouts. (The
	// held batch runs later on this context.)
	err := b.Commit(ctx, mb.ID, h, next, []store.Change{c})
	if !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("a commit held, its read-backs unavailable: %v, want mail.ErrUnavailable", err)
	}
	b.SetFaults(Faults{})
	got, err := b.SettleDelivery(ctx, mb.ID, meta.Blob)
	if err != nil || got.Landed {
		t.Fatalf("SettleDelivery: %+v, %v; want not landed", got, err)
	}
	released := b.ReleaseHeld()
	if len(released) != 1 {
		t.Fatalf("released %d statements, want the held commit", len(released))
	}
	if r := released[0]; r.Err != nil || r.Applied {
		t.Fatalf("the held commit, run after SettleDelivery said it had not landed: applied %v (%v); want refused", r.Applied, r.Err)
	}
	if h2, err := b.Head(ctx, mb.ID); err != nil || h2 != h {
		t.Fatalf("head %+v, %v; want %+v, unchanged", h2, err, h)
	}
	if rows, cs := collect(t, b, mb.ID); len(rows) != 0 || len(cs) != 0 {
		t.Fatalf("%d messages, %d changes; want none", len(rows), len(cs))
	}
}

// TestFaultFenceNullCondition: a bucket never fenced (its fence null, as
// in every bucket written before the column existed) takes commits, and
// one fenced takes them once the head (and fence) is read again; a commit
// built on the fence before is refused.
func TestFaultFenceNullCondition(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, nil)
	mb := newMailbox(t, b)
	if _, err := appendOne(ctx, b, mb.ID); err != nil {
		t.Fatalf("a commit on a bucket never fenced: %v", err)
	}
	rival := openTest(t, nil)
	h, err := rival.Head(ctx, mb.ID) // caches the bucket's fence: null
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := b.fence(ctx, gocql.LocalSerial, mb.ID, 0); err != nil {
			t.Fatalf("fence: %v", err)
		}
	}
	st, _, err := b.readBucket(ctx, gocql.LocalSerial, mb.ID, 0)
	if err != nil || st.fence != 2 {
		t.Fatalf("the fence after two advances: %d, %v; want 2", st.fence, err)
	}
	next := h
	next.ModSeq++
	if err := rival.Commit(ctx, mb.ID, h, next, nil); !errors.Is(err, mail.ErrConflict) {
		t.Fatalf("a commit on the head read before the fence: %v, want mail.ErrConflict", err)
	}
	if _, err := appendOne(ctx, rival, mb.ID); err != nil {
		t.Fatalf("a commit on the head read again: %v", err)
	}
	check(t, b, mb.ID)
}

// TestFaultLateRecordFenced: a mailbox record insert queued on a silent
// coordinator is settled as not landed and sent again; the mailbox is
// deleted; then the queued insert runs. Without the fence of the user's
// records it landed (IF NOT EXISTS holds again once the record is
// deleted) and brought the name back for a deleted mailbox: listed, and
// "no such mailbox (deleted)" on every use (found by TestFaultConformance
// with held writes, the Events scenario). Now it is refused.
func TestFaultLateRecordFenced(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, nil)
	mb := store.Mailbox{ID: randID(), UserID: randID(), Name: "Drafts", UIDValidity: 7,
		Created: time.Now().UTC().Truncate(time.Millisecond)}
	var once sync.Once
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		f := Pass
		if s.CAS && strings.Contains(s.CQL, ".mailboxes SET id") {
			once.Do(func() { f = Held })
		}
		return f
	}})
	if err := b.CreateMailbox(ctx, mb); err != nil {
		t.Fatalf("CreateMailbox, its first record insert held: %v", err)
	}
	b.SetFaults(Faults{})
	if err := b.DeleteMailbox(ctx, mb); err != nil {
		t.Fatalf("DeleteMailbox: %v", err)
	}
	released := b.ReleaseHeld()
	if len(released) != 1 || released[0].Err != nil || released[0].Applied {
		t.Fatalf("the held record insert, run after the delete: %+v; want one, refused", released)
	}
	if mbs, err := b.ListMailboxes(ctx, mb.UserID); err != nil || len(mbs) != 0 {
		t.Fatalf("mailboxes after the delete: %+v, %v; want none", mbs, err)
	}
	if _, err := b.Mailbox(ctx, mb.UserID, mb.Name); !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("Mailbox(%s) after the delete: %v, want mail.ErrNoSuchMailbox", mb.Name, err)
	}
	// The name is free again, the fence notwithstanding.
	again := mb
	again.ID = randID()
	if err := b.CreateMailbox(ctx, again); err != nil {
		t.Fatalf("CreateMailbox again: %v", err)
	}
	if mbs, err := b.ListMailboxes(ctx, mb.UserID); err != nil || len(mbs) != 1 || mbs[0].ID != again.ID {
		t.Fatalf("mailboxes: %+v, %v; want the one created again", mbs, err)
	}
}
