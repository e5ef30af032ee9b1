// Package storetest is the conformance suite every store.Backend passes.
// Each backend's tests call Run with a Harness; the suite exercises the
// backend through store.Store, as the protocol servers do, and checks the
// invariants of DESIGN.md section 3 after every step.
//
// Tests share the backend they are given and isolate themselves with fresh
// random users, so a backend need not be emptied between tests.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	DropChange func(t *testing.T, b store.Backend, mailboxID string, m mail.ModSeq, uid mail.UID)
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"Users", testUsers},
		{"UIDValidity", testUIDValidity},
		{"Mailboxes", testMailboxes},
		{"Subscriptions", testSubscriptions},
		{"AppendUIDs", testAppendUIDs},
		{"Restore", testRestore},
		{"Flags", testFlags},
		{"UnchangedSince", testUnchangedSince},
		{"Expunge", testExpunge},
		{"Expunged", testExpunged},
		{"ChangeLog", testChangeLog},
		{"CopyMove", testCopyMove},
		{"Quota", testQuota},
		{"QuotaConcurrent", testQuotaConcurrent},
		{"QuotaHeadReads", testQuotaHeadReads},
		{"QuotaOtherStore", testQuotaOtherStore},
		{"Blobs", testBlobs},
		{"LargeBlob", testLargeBlob},
		{"DeliverShared", testDeliverShared},
		{"Malformed", testMalformed},
		{"ConcurrentAppends", testConcurrentAppends},
		{"ConcurrentFlags", testConcurrentFlags},
		{"ConcurrentMoves", testConcurrentMoves},
		{"ManyCommits", testManyCommits},
		{"Events", testEvents},
		{"TextCache", testTextCache},
		{"IndexQueue", testIndexQueue},
		{"IndexHook", testIndexHook},
		{"ScanWhileAppending", testScanWhileAppending},
		{"CheckClean", testCheckClean},
		{"CheckRepair", testCheckRepair},
		{"CheckUsage", testCheckUsage},
		{"CheckWhileWriting", testCheckWhileWriting},
	}
	b := h.New(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			// With the default's body cache: readers of a body just
			// stored get it from memory (store.bodycache).
			e := &env{t: t, ctx: ctx, h: h, b: b, s: store.New(b, store.Options{RecentBodies: 32 << 20})}
			tc.fn(t, e)
		})
	}
	purge := []struct {
		name string
		fn   func(*testing.T, *env)
	}{
		{"PurgeExpunged", testPurgeExpunged},
		{"PurgeDeleted", testPurgeDeleted},
		{"PurgeRace", testPurgeRace},
		{"PurgeCrash", testPurgeCrash},
	}
	if h.Private != nil {
		b = h.Private(t)
	}
	for _, tc := range purge {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			e := &env{t: t, ctx: ctx, h: h, b: b, s: store.New(b, store.Options{})}
			tc.fn(t, e)
		})
	}
}

type env struct {
	t   *testing.T
	ctx context.Context
	h   Harness
	b   store.Backend
	s   *store.Store
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
