package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// purgeHooks wraps a backend's purge steps: the tests run deliveries
// inside the sweep's steps, or stop a deletion between its steps as a
// crash would. Everything else is the backend's.
type purgeHooks struct {
	store.Backend
	p store.BlobPurger
	// condemn and remove, if set, run before CondemnBlob and DeleteBlob.
	condemn, remove func(store.BlobState)
	// between, if set, replaces the store's between for DeleteBlob.
	between func(step string) error
}

func (h *purgeHooks) ClaimBlobs(ctx context.Context, ids []store.BlobID) error {
	return h.p.ClaimBlobs(ctx, ids)
}

func (h *purgeHooks) PurgeBlobs(ctx context.Context, ref func(store.BlobID) bool, fn func(store.BlobState) error) error {
	return h.p.PurgeBlobs(ctx, ref, fn)
}

func (h *purgeHooks) MarkUnreferenced(ctx context.Context, id store.BlobID, at time.Time) error {
	return h.p.MarkUnreferenced(ctx, id, at)
}

func (h *purgeHooks) ClearUnreferenced(ctx context.Context, id store.BlobID) error {
	return h.p.ClearUnreferenced(ctx, id)
}

func (h *purgeHooks) CondemnBlob(ctx context.Context, st store.BlobState) (bool, error) {
	if h.condemn != nil {
		h.condemn(st)
	}
	return h.p.CondemnBlob(ctx, st)
}

func (h *purgeHooks) DeleteBlob(ctx context.Context, st store.BlobState, between func(string) error) error {
	if h.remove != nil {
		h.remove(st)
	}
	if h.between != nil {
		between = h.between
	}
	return h.p.DeleteBlob(ctx, st, between)
}

func (h *purgeHooks) PurgeLeftovers(ctx context.Context) (int64, int64, error) {
	return h.p.PurgeLeftovers(ctx)
}

// pendingHooks is purgeHooks over a backend with pending references.
type pendingHooks struct {
	*purgeHooks
	store.PendingRefs
}

// hooked returns a Store over e's backend with purge hooks h.
func (e *env) hooked() (*store.Store, *purgeHooks) {
	e.t.Helper()
	p, ok := e.b.(store.BlobPurger)
	if !ok {
		e.t.Fatalf("the backend %T does not implement store.BlobPurger", e.b)
	}
	h := &purgeHooks{Backend: e.b, p: p}
	if pr, ok := e.b.(store.PendingRefs); ok {
		return e.newStore(&pendingHooks{h, pr}, store.Options{}), h
	}
	return e.newStore(h, store.Options{}), h
}

func (e *env) purge(s *store.Store, grace time.Duration) store.PurgeStats {
	e.t.Helper()
	return e.purgeDry(s, grace, false)
}

// purgeDry runs a pass by s with grace, a dry run if dry.
func (e *env) purgeDry(s *store.Store, grace time.Duration, dry bool) store.PurgeStats {
	e.t.Helper()
	st, err := s.Purge(e.ctx, store.PurgeOptions{Grace: grace, DryRun: dry})
	if err != nil {
		e.t.Fatalf("Purge(dry run %v): %v", dry, err)
	}
	return st
}

// stored reports whether the backend has the body whole.
func (e *env) stored(id store.BlobID) bool {
	e.t.Helper()
	ok, err := e.b.HasBlob(e.ctx, id)
	if err != nil {
		e.t.Fatalf("HasBlob: %v", err)
	}
	if !ok {
		if _, err := e.b.OpenBlob(e.ctx, id); !errors.Is(err, mail.ErrNoBlob) {
			e.t.Fatalf("HasBlob false, but OpenBlob: %v, want mail.ErrNoBlob", err)
		}
	}
	return ok
}

// readAll checks that every live message of mbs reads back whole: its
// body opens, has the message's size and, if want is set, is want.
func (e *env) readAll(want []byte, mbs ...store.Mailbox) int {
	e.t.Helper()
	n := 0
	for _, mb := range mbs {
		for _, r := range e.rows(mb) {
			b, err := e.s.OpenBody(e.ctx, r.Meta)
			if err != nil {
				e.t.Fatalf("%s UID %d: open body %s: %v", mb.Name, r.UID, r.Meta.Blob, err)
			}
			got, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
			b.Close()
			if err != nil || int64(len(got)) != r.Meta.Size || (want != nil && !bytes.Equal(got, want)) {
				e.t.Fatalf("%s UID %d: body %s read %d bytes (%v), want %d", mb.Name, r.UID, r.Meta.Blob, len(got), err, r.Meta.Size)
			}
			n++
		}
	}
	return n
}

// bigMessage returns a message of about size bytes, unique to the test:
// larger than an inline body (embedded) and than one chunk (Cassandra).
func bigMessage(size int) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "From: a@example.test\r\nSubject: big %s\r\n\r\n", randHex(8))
	rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
	for buf.Len() < size {
		fmt.Fprintf(&buf, "%x\r\n", rng.Uint64())
	}
	return buf.Bytes()
}

func (e *env) deliver(raw []byte, us ...store.User) {
	e.t.Helper()
	sp, err := e.s.Spool(bytes.NewReader(raw), 0)
	if err != nil {
		e.t.Fatal(err)
	}
	defer sp.Close()
	for i, err := range e.s.Deliver(e.ctx, sp, "", us) {
		if err != nil {
			e.t.Fatalf("Deliver to %s: %v", us[i].Address, err)
		}
	}
}

func (e *env) expungeAll(mb store.Mailbox) {
	e.t.Helper()
	var uids []mail.UID
	for _, r := range e.rows(mb) {
		uids = append(uids, r.UID)
	}
	if _, err := e.s.Expunge(e.ctx, mb, uids); err != nil {
		e.t.Fatalf("Expunge: %v", err)
	}
}

// testPurgeExpunged: a body expunged from every mailbox that held it is
// freed once two passes the grace apart found it unreferenced, not
// before; a body another mailbox still references survives, and reads
// back whole; the passes' statistics count what they freed.
func testPurgeExpunged(t testing.TB, e *env) {
	u := e.user()
	in, drafts, archive := e.mailbox(u, "INBOX"), e.mailbox(u, "Drafts"), e.mailbox(u, "Archive")
	big := bigMessage(300 << 10)
	small := []byte("From: a@example.test\r\nSubject: small " + randHex(8) + "\r\n\r\nsmall\r\n")
	bigID, smallID := blobID(big), blobID(small)
	e.deliver(big, u)
	e.deliver(small, u)
	for _, mb := range []store.Mailbox{drafts, archive} {
		if _, _, err := e.s.Copy(e.ctx, u, in, mb, []mail.UID{1, 2}); err != nil {
			t.Fatal(err)
		}
	}
	// Referenced by all three: nothing to free.
	e.purge(e.s, 0)
	e.purge(e.s, 0)
	if !e.stored(bigID) || !e.stored(smallID) {
		t.Fatal("a purge freed a body three mailboxes reference")
	}
	// Expunged from two of three: the third's copy survives.
	e.expungeAll(in)
	e.expungeAll(archive)
	e.purge(e.s, 0)
	e.purge(e.s, 0)
	if !e.stored(bigID) || !e.stored(smallID) {
		t.Fatal("a purge freed a body Drafts still references")
	}
	if n := e.readAll(nil, drafts); n != 2 {
		t.Fatalf("Drafts holds %d messages, want 2", n)
	}
	// Expunged from all: the first pass marks, a pass within the grace
	// waits, a pass after it frees.
	e.expungeAll(drafts)
	first := e.purge(e.s, time.Hour)
	if first.Marked < 2 || first.Freed != 0 {
		t.Fatalf("first pass after the last expunge: %+v, want >= 2 marked and none freed", first)
	}
	if st := e.purge(e.s, time.Hour); st.Waiting < 2 || st.Freed != 0 || !e.stored(bigID) {
		t.Fatalf("a pass within the grace: %+v, want >= 2 waiting and none freed", st)
	}
	dry, err := e.s.Purge(e.ctx, store.PurgeOptions{DryRun: true})
	if err != nil || dry.Freed < 2 || !e.stored(bigID) || !e.stored(smallID) {
		t.Fatalf("dry run: %+v, %v: want >= 2 it would free, and both bodies still stored", dry, err)
	}
	st := e.purge(e.s, 0)
	if st.Freed < 2 || st.FreedBytes < int64(len(small)) || st.Duration <= 0 {
		t.Fatalf("a pass after the grace: %+v, want >= 2 freed", st)
	}
	if e.stored(bigID) || e.stored(smallID) {
		t.Fatal("an unreferenced body survived a pass after the grace")
	}
	if tot := e.s.PurgeTotals(); tot.Freed < 2 || tot.Passes < 7 || tot.Last.Freed != st.Freed {
		t.Fatalf("PurgeTotals %+v", tot)
	}
	// Delivered again after the purge: stored anew.
	e.deliver(big, u)
	e.readAll(big, in)
	for _, mb := range []store.Mailbox{in, drafts, archive} {
		e.check(mb)
	}
}

// testPurgeDeleted: the bodies of a deleted mailbox and of a deleted
// user's mail are freed; one the user's other mailbox references stays.
func testPurgeDeleted(t testing.TB, e *env) {
	u := e.user()
	keep := e.user()
	in := e.mailbox(u, "INBOX")
	mine := []byte("Subject: mine " + randHex(8) + "\r\n\r\nx\r\n")
	shared := []byte("Subject: shared " + randHex(8) + "\r\n\r\ny\r\n")
	e.deliver(mine, u)
	e.deliver(shared, u, keep)
	mb, err := e.s.CreateMailbox(e.ctx, u, "Old", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.Copy(e.ctx, u, in, mb, []mail.UID{1, 2}); err != nil {
		t.Fatal(err)
	}
	e.expungeAll(in)
	if err := e.s.DeleteMailbox(e.ctx, mb); err != nil {
		t.Fatal(err)
	}
	e.purge(e.s, 0)
	e.purge(e.s, 0)
	if e.stored(blobID(mine)) {
		t.Fatal("the body of a deleted mailbox's only message survived the purge")
	}
	if !e.stored(blobID(shared)) {
		t.Fatal("the purge freed a body another user's INBOX references")
	}
	e.deliver(mine, u)
	if err := e.s.DeleteUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	e.purge(e.s, 0)
	e.purge(e.s, 0)
	if e.stored(blobID(mine)) {
		t.Fatal("the body of a deleted user's mail survived the purge")
	}
	if n := e.readAll(shared, e.mailbox(keep, "INBOX")); n != 1 {
		t.Fatalf("the other user's INBOX holds %d messages, want 1", n)
	}
}

// testPurgeRace: 1,000 deliveries of one body race the sweep that frees
// it, for a large body and for a small one. In each of 10 rounds the body is unreferenced and marked long
// enough ago, so the next pass condemns and deletes it; 50 deliveries
// start as it condemns the body and 50 as it deletes it. Afterwards every
// message delivered reads back whole: the purge freed nothing a
// delivery referenced (the claim protocol, ARCHITECTURE.md "Purge").
func testPurgeRace(t testing.TB, e *env) {
	// Larger than an inline body (embedded) and than one chunk
	// (Cassandra): the paths that find a body stored and do not write
	// it. Then a small one: inline, and one Cassandra chunk, whose claim
	// is the body written again.
	for _, c := range []struct {
		name string
		size int
	}{{"large", 300 << 10}, {"small", 2 << 10}} {
		e.sub(c.name, func(t testing.TB) {
			sub := e.with(t)
			sub.race(t, bigMessage(c.size))
		})
	}
}

// race is testPurgeRace with the body raw.
func (e *env) race(t testing.TB, raw []byte) {
	const rounds, perRound, workers = 10, 100, 8
	us := make([]store.User, 10)
	var ins []store.Mailbox
	for i := range us {
		us[i] = e.user()
		ins = append(ins, e.mailbox(us[i], "INBOX"))
	}
	id := blobID(raw)
	sp, err := e.s.Spool(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var delivered atomic.Int64
	var failed atomic.Pointer[error] // the last delivery that failed
	jobs := make(chan int)
	var workersDone, round sync.WaitGroup
	for range workers {
		workersDone.Go(func() {
			for i := range jobs {
				for _, err := range e.s.Deliver(e.ctx, sp, "", []store.User{us[i%len(us)]}) {
					if err != nil {
						failed.Store(&err)
					} else {
						delivered.Add(1)
					}
				}
				round.Done()
			}
		})
	}
	defer workersDone.Wait()
	defer close(jobs)
	start := func(from, n int) {
		round.Add(n)
		go func() {
			for i := from; i < from+n; i++ {
				jobs <- i
			}
		}()
	}
	e.deliver(raw, us[0]) // stored, for the first round's purge to find
	s, h := e.hooked()
	var condemned, deleted atomic.Int64
	for r := range rounds {
		for _, mb := range ins {
			e.expungeAll(mb)
		}
		e.purge(s, 0) // marks the body unreferenced
		base, half := r*perRound, perRound/2
		started := 0
		firstHalf := func() {
			waitFor(t, func() bool { return delivered.Load() >= int64(base+half) })
		}
		// Which step the deliveries race: in round r%3 == 0, 50 of them
		// commit before the sweep condemns the body, in 1 between its
		// condemning and deleting it, and the sweep's result is read
		// before any more are delivered (they would store the body
		// again); in 2, all 100 start as the sweep deletes the body.
		h.condemn = func(st store.BlobState) {
			if st.ID == id && r%3 == 0 && started == 0 {
				condemned.Add(1)
				start(base, half)
				started = half
				firstHalf()
			}
		}
		h.remove = func(st store.BlobState) {
			if st.ID != id || started != 0 {
				return
			}
			deleted.Add(1)
			if r%3 == 1 {
				start(base, half)
				started = half
				firstHalf()
			} else {
				start(base, perRound)
				started = perRound
			}
		}
		e.purge(s, 0)
		h.condemn, h.remove = nil, nil
		if started == half {
			firstHalf()
			if got := e.readAll(raw, ins...); got != half {
				t.Fatalf("round %d: %d messages read back after the sweep, want %d", r, got, half)
			}
		}
		if started < perRound {
			start(base+started, perRound-started)
		}
		round.Wait()
		if err := failed.Load(); err != nil {
			t.Fatalf("round %d: a delivery failed: %v", r, *err)
		}
		if got := e.readAll(raw, ins...); got != perRound {
			t.Fatalf("round %d: %d messages read back, want %d", r, got, perRound)
		}
	}
	if delivered.Load() != rounds*perRound {
		t.Fatalf("%d deliveries, want %d", delivered.Load(), rounds*perRound)
	}
	// The sweep reached the body in every round: to condemn it in the
	// first kind, to delete it in the others.
	if c, d := condemned.Load(), deleted.Load(); c != 4 || d != 6 {
		t.Fatalf("the deliveries raced the sweep's condemning in %d rounds and its deletion in %d, want 4 and 6", c, d)
	}
	for _, mb := range ins {
		e.check(mb)
	}
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for deliveries")
		}
	}
}

// testPurgeCrash: a purge stopped in the middle of deleting bodies, as a
// crash would stop it, leaves every message readable, a delivery of a
// half-deleted body stores it whole, and the next pass finishes the
// deletion.
func testPurgeCrash(t testing.TB, e *env) {
	u := e.user()
	in := e.mailbox(u, "INBOX")
	gone, back := bigMessage(300<<10), bigMessage(300<<10)
	live := []byte("Subject: live " + randHex(8) + "\r\n\r\nstays\r\n")
	e.deliver(gone, u)
	e.deliver(back, u)
	e.expungeAll(in)
	e.deliver(live, u)
	s, h := e.hooked()
	e.purge(s, 0)
	var steps []string
	var current store.BlobID
	h.remove = func(st store.BlobState) { current = st.ID }
	h.between = func(step string) error {
		if current != blobID(back) {
			return nil
		}
		steps = append(steps, step)
		return fmt.Errorf("crash after step %q", step)
	}
	if _, err := s.Purge(e.ctx, store.PurgeOptions{}); err == nil || len(steps) != 1 {
		t.Fatalf("the purge stopped by a crash after step %v returned %v", steps, err)
	}
	h.between = nil
	// The crash stopped the deletion of back half-way.
	e.readAll(live, in)
	e.deliver(back, u)
	if n := e.readAll(nil, in); n != 2 {
		t.Fatalf("INBOX holds %d messages after the crash, want 2", n)
	}
	e.purge(s, 0)
	e.purge(s, 0)
	if e.stored(blobID(gone)) {
		t.Fatal("the purge after the crash left an unreferenced body")
	}
	e.readAll(nil, in)
	for _, r := range e.rows(in) {
		if r.Meta.Blob == blobID(back) && !bytes.Equal(e.readBlob(r.Meta.Blob), back) {
			t.Fatal("the body delivered after the crash reads back wrong")
		}
	}
	e.check(in)
}
