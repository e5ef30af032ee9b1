package storetest

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// FaultHarness runs the suite under faults (RunFaulted): its backends
// fail some of their requests to the storage the way a network and a
// cluster do, at random.
type FaultHarness struct {
	// Seed draws the faults: a scenario's come from Seed and the
	// scenario's name, so one scenario can be run again alone.
	Seed uint64
	// Arm turns faults drawn from seed on in every backend the Harness
	// has returned or returns; disarm turns them off and describes each it
	// injected.
	Arm func(seed uint64) (disarm func() (injected []string))
	// Injected reports whether the text of a failure names an injected
	// fault: an operation failed because of one.
	Injected func(msg string) bool
}

// FaultReport sums a RunFaulted.
type FaultReport struct {
	Scenarios  int // scenarios run
	Injections int // faults injected
	Failed     int // scenarios in which an operation failed because of one
}

// RunFaulted runs every scenario of the suite once under faults. An
// operation that fails because of an injected fault may or may not have
// happened, so the scenario's failure from there on is excused (logged,
// not failed): its own checks assume every operation succeeds. A failure
// before that is a bug, as in Run: faults that the backend absorbed must
// not change any result. Then, with the faults off, the store must be
// consistent and work (checkAfterFaults): every mailbox of the users the
// scenario created passes CheckMailbox, every commit a Store acknowledged
// is in its change log, no more commits are in the logs than were
// acknowledged or failed (a commit reported as not done that landed would
// be retried: a duplicate), every message's body reads back whole, and a
// new delivery, append, flag change and expunge succeed. A failure prints
// the seeds that reproduce it.
func RunFaulted(t *testing.T, h Harness, f FaultHarness) FaultReport {
	var rep FaultReport
	each(t, h, func(t *testing.T, b store.Backend, sc scenario) {
		if sc.plants {
			t.Skip("plants a corruption behind the Store's back: run without faults (Run)")
		}
		seed := scenarioSeed(f.Seed, sc.name)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var injected []string
		defer func() { // also after a Fatal of the checks below
			if t.Failed() {
				t.Logf("faults drawn from seed %d (scenario seed %d): run again with QUIRE_FAULT_SEED=%d -run '%s'; they were:\n%s",
					f.Seed, seed, f.Seed, t.Name(), strings.Join(injected, "\n"))
			}
		}()
		ft := &faultT{TB: t, injected: f.Injected}
		e := newEnv(ft, t, ctx, h, b)
		disarm := f.Arm(seed)
		done := make(chan struct{})
		go func() { // its own goroutine: a Fatal ends it, not the test
			defer close(done)
			defer func() {
				if r := recover(); r != nil {
					ft.report(fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
				}
			}()
			sc.fn(ft, e)
		}()
		<-done
		injected = disarm()
		n := len(injected)
		rep.Scenarios++
		rep.Injections += n
		if ft.excused() > 0 {
			rep.Failed++
		}
		t.Logf("%d faults injected; %d failures excused", n, ft.excused())
		e.t = t
		e.checkAfterFaults()
	})
	return rep
}

// scenarioSeed derives a scenario's seed from the run's.
func scenarioSeed(seed uint64, name string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", seed, name)
	return h.Sum64()
}

// faultT is the testing.TB of a scenario under faults: a failure whose
// text names an injected fault, and every failure after it, is excused
// (logged); any other fails the test. Fatal and FailNow end the
// scenario's goroutine (RunFaulted runs it in one of its own).
type faultT struct {
	testing.TB
	injected func(string) bool
	mu       sync.Mutex
	n        int // failures excused
}

func (f *faultT) report(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n > 0 || f.injected(msg) {
		f.n++
		f.TB.Logf("excused (an operation failed by an injected fault): %s", msg)
		return
	}
	f.TB.Errorf("%s", msg)
}

func (f *faultT) excused() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *faultT) Error(args ...any)                 { f.report(strings.TrimSuffix(fmt.Sprintln(args...), "\n")) }
func (f *faultT) Errorf(format string, args ...any) { f.report(fmt.Sprintf(format, args...)) }
func (f *faultT) Fail()                             { f.report("failed") }
func (f *faultT) Fatal(args ...any)                 { f.Error(args...); runtime.Goexit() }
func (f *faultT) Fatalf(format string, args ...any) { f.Errorf(format, args...); runtime.Goexit() }
func (f *faultT) FailNow()                          { f.Fail(); runtime.Goexit() }

// checkAfterFaults checks, with the faults off, what RunFaulted promises
// of the users e's scenario created.
func (e *env) checkAfterFaults() {
	t := e.t
	t.Helper()
	r := e.rec
	r.mu.Lock()
	users := append([]store.User(nil), r.users...)
	r.mu.Unlock()
	for _, u := range users {
		if cur, err := e.s.User(e.ctx, u.Address); err == nil && cur.ID == u.ID {
			// A delivery works (INBOX, recreated if it was lost, and
			// the uncertain-writes ledger read first where there is one).
			raw := "From: a@example.test\r\nSubject: after the faults " + randHex(8) + "\r\n\r\nbody\r\n"
			e.with(e.tt).deliver([]byte(raw), store.User{ID: u.ID, Address: u.Address})
		}
	}
	r.mu.Lock() // the deliveries' commits acknowledged too
	acked := map[string]map[mail.ModSeq]bool{}
	for id, ms := range r.acked {
		acked[id] = map[mail.ModSeq]bool{}
		for m := range ms {
			acked[id][m] = true
		}
	}
	failed := r.failed
	r.mu.Unlock()
	unacked := 0
	checked := map[string]bool{}
	for _, u := range users {
		mbs, err := e.s.Mailboxes(e.ctx, u)
		if err != nil {
			t.Errorf("after the faults: the mailboxes of %s: %v", u.Address, err)
			continue
		}
		for _, mb := range mbs {
			if checked[mb.ID] {
				// A rename cut short leaves both names on one mailbox
				// (renaming again completes it): check it once.
				continue
			}
			checked[mb.ID] = true
			n, err := e.checkMailboxAfterFaults(mb, acked[mb.ID])
			if err != nil {
				t.Errorf("after the faults: %s of %s: %v", mb.Name, u.Address, err)
			}
			unacked += n
		}
	}
	if unacked > failed {
		t.Errorf("after the faults: the change logs hold %d commits that no Store acknowledged, but only %d commits failed: "+
			"a commit reported as not done landed, and its retry stored it again", unacked, failed)
	}
}

// checkMailboxAfterFaults checks one mailbox (see RunFaulted), given the
// MODSEQs of the commits to it that were acknowledged, and returns how
// many commits its log holds that were not.
func (e *env) checkMailboxAfterFaults(mb store.Mailbox, acked map[mail.ModSeq]bool) (int, error) {
	if err := CheckMailbox(e.ctx, e.s, mb); err != nil {
		return 0, err
	}
	logged := map[mail.ModSeq]bool{}
	if err := e.s.Changes(e.ctx, mb, 0, func(c store.Change) error { logged[c.ModSeq] = true; return nil }); err != nil {
		return 0, fmt.Errorf("store.Changes: %w", err)
	}
	for m := range acked {
		if !logged[m] {
			return 0, fmt.Errorf("the commit acknowledged at MODSEQ %d is not in the change log", m)
		}
	}
	unacked := 0
	for m := range logged {
		if !acked[m] {
			unacked++
		}
	}
	var rows []store.MessageRow
	if err := e.s.Messages(e.ctx, mb, 1, 0, func(r store.MessageRow) error { rows = append(rows, r); return nil }); err != nil {
		return unacked, fmt.Errorf("store.Messages: %w", err)
	}
	for _, r := range rows {
		if err := e.intact(r); err != nil {
			return unacked, fmt.Errorf("UID %d: %w", r.UID, err)
		}
	}
	// The store takes new work: an append (by a user without quota: the
	// scenario's may be full), a flag change on it, and its expunge.
	uids, err := e.s.Append(e.ctx, store.User{ID: mb.UserID}, mb, e.msgOrFail("after the faults"))
	if err != nil {
		return unacked, fmt.Errorf("an append after the faults: %w", err)
	}
	if _, err := e.s.StoreFlags(e.ctx, mb, uids, store.FlagsAdd, mail.Flags{`\Seen`}, 0); err != nil {
		return unacked, fmt.Errorf("a flag change after the faults: %w", err)
	}
	if gone, err := e.s.Expunge(e.ctx, mb, uids); err != nil || len(gone) != 1 {
		return unacked, fmt.Errorf("an expunge after the faults: %v expunged, %v", gone, err)
	}
	return unacked, CheckMailbox(e.ctx, e.s, mb)
}

// intact checks that a message's body reads back whole: its size, and
// the content its blob ID names.
func (e *env) intact(r store.MessageRow) error {
	b, err := e.s.OpenBody(e.ctx, r.Meta)
	if err != nil {
		return fmt.Errorf("open body %s: %w", r.Meta.Blob, err)
	}
	defer b.Close()
	got, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil || int64(len(got)) != r.Meta.Size || blobID(got) != r.Meta.Blob {
		return fmt.Errorf("body %s reads back %d bytes (%v) of another content, want %d", r.Meta.Blob, len(got), err, r.Meta.Size)
	}
	return nil
}

// msgOrFail is msg for the checks after faults, on the test's T.
func (e *env) msgOrFail(tag string) store.NewMessage {
	return e.with(e.tt).msg(tag)
}
