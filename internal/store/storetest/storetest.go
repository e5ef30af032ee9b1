// Package storetest is the conformance suite every store.Backend passes.
// Each backend's tests call Run with a Harness; the suite exercises the
// backend through store.Store, as the protocol servers do, and checks the
// invariants of DESIGN.md section 3 after every step.
//
// Tests share the backend they are given and isolate themselves with fresh
// random users, so a backend need not be emptied between tests.
//
// RunFaulted runs the same scenarios under faults the harness injects: an
// operation that failed because of one may or may not have happened, so
// the scenario's own checks stop counting at its first such failure, and
// the store must still be consistent afterwards (faults.go). So every
// scenario checks every error it gets and reports it with its text.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Harness gives the suite backends to test.
type Harness struct {
	// New returns a backend; the suite does not close it (use t.Cleanup).
	New func(t *testing.T) store.Backend
	// Peer, if set, returns another backend over the same data as b, as a
	// second host would have. The concurrency tests then write through both.
	Peer func(t *testing.T, b store.Backend) store.Backend
	// Private returns a backend over data no other test or process
	// writes: the purge tests sweep every body the backend holds, and
	// may free what a concurrent writer has stored but not referenced
	// yet (they purge with no grace). Nil: New's backends are private.
	Private func(t *testing.T) store.Backend
	// DropChange deletes the change-log entry of uid at MODSEQ m, as a
	// corruption would, for the check tests (nil: they are skipped). The
	// entry is a flags change whose row is stored already.
	DropChange func(t testing.TB, b store.Backend, mailboxID string, m mail.ModSeq, uid mail.UID)
	// PlantOrphans writes behind the store's back, dated at, one of each
	// kind of orphan the backend can be left with (pieces of a write whose
	// record never landed, store.OrphanPurger; spilled metadata in
	// mailboxID) under fresh keys, and returns how many it wrote and a
	// function that counts how many of them are still stored (nil: the
	// orphan test is skipped).
	PlantOrphans func(t testing.TB, b store.Backend, mailboxID string, at time.Time) (n int, left func() int)
	// StoredRows returns how many of uids still have a row of any kind
	// stored under mailboxID: live, expunged (kept for Expunged) or
	// metadata (nil: the expunged rows' trim is checked through Expunged
	// alone).
	StoredRows func(t testing.TB, b store.Backend, mailboxID string, uids []mail.UID) int
	// PlantStray deletes mb's record behind the store's back, leaving its
	// head and rows as a creation whose record never landed, or a
	// creation that raced its user's deletion, leaves them
	// (store.StrayPurger), and returns a function counting the rows still
	// stored under mb's id (nil: the stray test is skipped).
	PlantStray func(t testing.TB, b store.Backend, mb store.Mailbox) (left func() int)
	// StrayGrace: the backend frees a stray only once its last write is
	// older than the grace (a creation may still be under way); without
	// it, at the first pass.
	StrayGrace bool
}

// scenario is one test of the suite.
type scenario struct {
	name string
	fn   func(testing.TB, *env)
	// plants: the scenario writes to the backend behind the Store's back
	// (a corruption for check to find), so RunFaulted's count of
	// acknowledged commits cannot hold for it, and it runs without faults
	// only.
	plants bool
}

// scenarios run on the backend New returns.
var scenarios = []scenario{
	{name: "Users", fn: testUsers},
	{name: "UIDValidity", fn: testUIDValidity},
	{name: "Mailboxes", fn: testMailboxes},
	{name: "Subscriptions", fn: testSubscriptions},
	{name: "AppendUIDs", fn: testAppendUIDs},
	{name: "Restore", fn: testRestore},
	{name: "Flags", fn: testFlags},
	{name: "UnchangedSince", fn: testUnchangedSince},
	{name: "Expunge", fn: testExpunge},
	{name: "Expunged", fn: testExpunged},
	{name: "ChangeLog", fn: testChangeLog},
	{name: "CopyMove", fn: testCopyMove},
	{name: "Quota", fn: testQuota},
	{name: "QuotaConcurrent", fn: testQuotaConcurrent},
	{name: "QuotaHeadReads", fn: testQuotaHeadReads},
	{name: "QuotaOtherStore", fn: testQuotaOtherStore},
	{name: "Blobs", fn: testBlobs},
	{name: "LargeBlob", fn: testLargeBlob},
	{name: "DeliverShared", fn: testDeliverShared},
	{name: "Malformed", fn: testMalformed},
	{name: "ConcurrentAppends", fn: testConcurrentAppends},
	{name: "ConcurrentFlags", fn: testConcurrentFlags},
	{name: "ConcurrentMoves", fn: testConcurrentMoves},
	{name: "ManyCommits", fn: testManyCommits},
	{name: "Events", fn: testEvents},
	{name: "TextCache", fn: testTextCache},
	{name: "IndexQueue", fn: testIndexQueue},
	{name: "IndexHook", fn: testIndexHook},
	{name: "ScanWhileAppending", fn: testScanWhileAppending},
	{name: "CheckClean", fn: testCheckClean},
	{name: "CheckRepair", fn: testCheckRepair, plants: true},
	{name: "CheckUsage", fn: testCheckUsage, plants: true},
	{name: "CheckWhileWriting", fn: testCheckWhileWriting},
	{name: "LogTrimWhileReading", fn: testLogTrimWhileReading, plants: true}, // trims through the backend, as the purge does
}

// purgeScenarios run on the backend Private returns.
var purgeScenarios = []scenario{
	{name: "PurgeExpunged", fn: testPurgeExpunged},
	{name: "PurgeDeleted", fn: testPurgeDeleted},
	{name: "PurgeRace", fn: testPurgeRace},
	{name: "PurgeCrash", fn: testPurgeCrash},
	{name: "LogTrim", fn: testLogTrim},
	{name: "LogTrimExpunged", fn: testLogTrimExpunged},
	{name: "PurgeStrays", fn: testPurgeStrays, plants: true},
	{name: "PurgeOrphans", fn: testPurgeOrphans, plants: true},
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	each(t, h, func(t *testing.T, b store.Backend, sc scenario) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		sc.fn(t, newEnv(t, t, ctx, h, b))
	})
}

// each runs fn for every scenario, as a subtest of t, with the backend it
// runs on.
func each(t *testing.T, h Harness, fn func(*testing.T, store.Backend, scenario)) {
	b := h.New(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { fn(t, b, sc) })
	}
	if h.Private != nil {
		b = h.Private(t)
	}
	for _, sc := range purgeScenarios {
		t.Run(sc.name, func(t *testing.T) { fn(t, b, sc) })
	}
}

type env struct {
	t   testing.TB // the scenario's: under faults, one that excuses their errors (faults.go)
	tt  *testing.T // the test's, for the harness
	ctx context.Context
	h   Harness
	b   store.Backend
	s   *store.Store

	rec *record
}

// record is what the checks after faults need (faults.go): the users the
// scenario created, the commits its Stores acknowledged, and how many
// commits failed.
type record struct {
	mu     sync.Mutex
	users  []store.User
	acked  map[string]map[mail.ModSeq]bool // mailbox ID -> MODSEQs
	failed int
}

func newEnv(t testing.TB, tt *testing.T, ctx context.Context, h Harness, b store.Backend) *env {
	e := &env{t: t, tt: tt, ctx: ctx, h: h, b: b, rec: &record{acked: map[string]map[mail.ModSeq]bool{}}}
	// With the default's body cache: readers of a body just stored get it
	// from memory (store.bodycache).
	e.s = e.newStore(b, store.Options{RecentBodies: 32 << 20})
	return e
}

// with returns e reporting to t.
func (e *env) with(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// newStore returns a Store over b with options o, whose acknowledged and
// failed commits e records (besides o's own Publish).
func (e *env) newStore(b store.Backend, o store.Options) *store.Store {
	publish := o.Publish
	o.Publish = func(ev mail.Event) {
		if r := e.rec; ev.ModSeq > 0 {
			r.mu.Lock()
			if r.acked[ev.MailboxID] == nil {
				r.acked[ev.MailboxID] = map[mail.ModSeq]bool{}
			}
			r.acked[ev.MailboxID][ev.ModSeq] = true
			r.mu.Unlock()
		}
		if publish != nil {
			publish(ev)
		}
	}
	o.Observer = e.rec
	return store.New(b, o)
}

// Commit implements store.Observer: it counts the failed commits.
func (r *record) Commit(_ string, _ int, _ time.Duration, err error) {
	if err != nil {
		r.mu.Lock()
		r.failed++
		r.mu.Unlock()
	}
}

// track records a user the scenario created, for the checks after faults.
func (e *env) track(u store.User) store.User {
	e.rec.mu.Lock()
	e.rec.users = append(e.rec.users, u)
	e.rec.mu.Unlock()
	return u
}

// sub runs fn as a subtest named name, or, where the scenario runs under
// faults, in line.
func (e *env) sub(name string, fn func(testing.TB)) {
	if t, ok := e.t.(*testing.T); ok {
		t.Run(name, func(t *testing.T) { fn(t) })
		return
	}
	fn(e.t)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// user creates a fresh user with the default mailboxes.
func (e *env) user() store.User {
	e.t.Helper()
	u, err := e.s.CreateUser(e.ctx, "u"+randHex(6)+"@example.test", "$test$")
	if u.ID != "" {
		e.track(u) // created, if maybe not all its mailboxes: checked after faults
	}
	if err != nil {
		e.t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func (e *env) mailbox(u store.User, name string) store.Mailbox {
	e.t.Helper()
	mb, err := e.s.Mailbox(e.ctx, u, name)
	if err != nil {
		e.t.Fatalf("Mailbox(%s): %v", name, err)
	}
	return mb
}

func (e *env) head(mb store.Mailbox) store.Head {
	e.t.Helper()
	h, err := e.s.Status(e.ctx, mb)
	if err != nil {
		e.t.Fatalf("Status(%s): %v", mb.Name, err)
	}
	return h
}

func (e *env) rows(mb store.Mailbox) []store.MessageRow {
	e.t.Helper()
	var out []store.MessageRow
	if err := e.s.Messages(e.ctx, mb, 1, 0, func(r store.MessageRow) error {
		out = append(out, r)
		return nil
	}); err != nil {
		e.t.Fatalf("Messages(%s): %v", mb.Name, err)
	}
	return out
}

func (e *env) changes(mb store.Mailbox, since uint64) []store.Change {
	e.t.Helper()
	var out []store.Change
	if err := e.s.Changes(e.ctx, mb, modseq(since), func(c store.Change) error {
		out = append(out, c)
		return nil
	}); err != nil {
		e.t.Fatalf("Changes(%s): %v", mb.Name, err)
	}
	return out
}
