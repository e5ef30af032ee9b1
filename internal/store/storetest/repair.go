package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// The check tests plant each corruption quire check must find through the
// backend itself, then check, repair and check again.

// checkFindings runs a check of u and returns its findings as strings.
func (e *env) checkFindings(u store.User, repair bool) []store.Finding {
	e.t.Helper()
	rep, err := e.s.Check(e.ctx, u, store.CheckOptions{Repair: repair, Bodies: true})
	if err != nil {
		e.t.Fatalf("Check(repair %v): %v", repair, err)
	}
	return rep.Findings
}

// wantFindings fails unless fs are exactly the kinds and UIDs of want
// ("kind" or "kind uid"), in order, each Repaired as repaired says.
func wantFindings(t testing.TB, fs []store.Finding, repaired map[string]bool, want ...string) {
	t.Helper()
	var got []string
	for _, f := range fs {
		k := f.Kind
		if f.UID != 0 {
			k += " " + itoa(f.UID)
		}
		got = append(got, k)
		if r, ok := repaired[f.Kind]; ok && f.Repaired != r {
			t.Errorf("finding %s: repaired %v, want %v", f, f.Repaired, r)
		}
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("findings %q, want %q\n%s", got, want, findingLines(fs))
	}
}

func findingLines(fs []store.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("  " + f.String() + "\n")
	}
	return b.String()
}

func itoa(u uint32) string {
	if u == 0 {
		return "0"
	}
	var d []byte
	for ; u > 0; u /= 10 {
		d = append([]byte{byte('0' + u%10)}, d...)
	}
	return string(d)
}

// testCheckClean: a check of a healthy user finds nothing, and its repair
// changes nothing (no MODSEQ moves).
func testCheckClean(t testing.TB, e *env) {
	u := e.user()
	inbox := e.mailbox(u, "INBOX")
	uids := e.appendN(u, inbox, e.msg("a"), e.msg("b", mail.FlagSeen), e.msg("c"))
	if _, err := e.s.StoreFlags(e.ctx, inbox, uids[1:2], store.FlagsAdd, mail.Flags{mail.FlagDeleted}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Expunge(e.ctx, inbox, uids[1:2]); err != nil {
		t.Fatal(err)
	}
	before := e.head(inbox)
	wantFindings(t, e.checkFindings(u, false), nil)
	wantFindings(t, e.checkFindings(u, true), nil)
	if after := e.head(inbox); after != before {
		t.Fatalf("a repair of a healthy mailbox moved its head: %+v -> %+v", before, after)
	}
}

// testCheckRepair plants a head off by one, a missing change-log entry and
// a missing body; check finds the three, repair fixes the first two and
// still reports the body, and the mailbox keeps the storetest invariants.
func testCheckRepair(t testing.TB, e *env) {
	if e.h.DropChange == nil {
		t.Skip("the harness cannot drop a change-log entry")
	}
	bp, ok := e.b.(store.BlobPurger)
	if !ok {
		t.Skip("the backend cannot delete a body")
	}
	u := e.user()
	inbox, sent := e.mailbox(u, "INBOX"), e.mailbox(u, "Sent")
	uids := e.appendN(u, inbox, e.msg("a"), e.msg("b"), e.msg("c"))
	gone := e.msg("gone")
	goneUID := e.appendN(u, sent, gone)[0]

	// A flags change whose log entry is lost: the row says \Flagged at
	// its MODSEQ, the log's last entry for it is the append.
	res, err := e.s.StoreFlags(e.ctx, inbox, uids[1:2], store.FlagsAdd, mail.Flags{mail.FlagFlagged}, 0)
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("StoreFlags: %+v %v", res, err)
	}
	e.h.DropChange(t, e.b, inbox.ID, res.Rows[0].ModSeq, uids[1])

	// The head counts one message more than the rows.
	h, err := e.b.Head(e.ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	bad := h
	bad.Messages++
	bad.ModSeq++
	if err := e.b.Commit(e.ctx, inbox.ID, h, bad, nil); err != nil {
		t.Fatalf("plant a head off by one: %v", err)
	}

	// A body lost.
	at := time.Now().Add(2 * time.Second).Truncate(time.Second).UTC() // what every backend stores exactly
	if err := bp.MarkUnreferenced(e.ctx, gone.Blob, at); err != nil {
		t.Fatal(err)
	}
	st := store.BlobState{ID: gone.Blob, Unreferenced: at, Chunks: 1}
	if ok, err := bp.CondemnBlob(e.ctx, st); err != nil || !ok {
		t.Fatalf("CondemnBlob: %v %v", ok, err)
	}
	if err := bp.DeleteBlob(e.ctx, st, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.b.HasBlob(e.ctx, gone.Blob); err != nil || ok {
		t.Fatalf("the planted body is still there (%v, %v)", ok, err)
	}

	// Sorted by mailbox name: INBOX (log, head), then Sent's body.
	found := e.checkFindings(u, false)
	wantFindings(t, found, map[string]bool{"log": false, "head": false, "body": false},
		"log "+itoa(uint32(uids[1])), "head", "body "+itoa(uint32(goneUID)))
	if !strings.Contains(found[1].Detail, "MESSAGES 4") || !strings.Contains(found[1].Detail, "recount MESSAGES 3") {
		t.Errorf("head finding %q does not show the counts", found[1].Detail)
	}

	repaired := e.checkFindings(u, true)
	wantFindings(t, repaired, map[string]bool{"log": true, "head": true, "body": false},
		"log "+itoa(uint32(uids[1])), "head", "body "+itoa(uint32(goneUID)))
	// After the repair only the body is left, and it is reported still.
	wantFindings(t, e.checkFindings(u, false), map[string]bool{"body": false}, "body "+itoa(uint32(goneUID)))
	if err := CheckMailbox(e.ctx, e.s, inbox); err != nil {
		t.Fatalf("after the repair: %v", err)
	}
	if got := e.head(inbox); got.Messages != 3 || got.ModSeq <= bad.ModSeq {
		t.Fatalf("repaired head %+v: want 3 messages and HIGHESTMODSEQ above %d", got, bad.ModSeq)
	}
	// The repaired log gives the flags change to a client that resyncs
	// from before it (RFC 7162 3.2.10).
	var seen bool
	err = e.s.Changes(e.ctx, inbox, res.Rows[0].ModSeq, func(c store.Change) error {
		if c.UID == uids[1] && c.Kind == store.ChangeFlags && c.Flags.Has(mail.FlagFlagged) {
			seen = true
		}
		return nil
	})
	if err != nil || !seen {
		t.Fatalf("the log has no flags change for uid %d after the repair (%v)", uids[1], err)
	}
	us, err := e.s.Usage(e.ctx, u)
	if err != nil || us.Messages != 4 {
		t.Fatalf("usage after the repair: %+v %v, want 4 messages", us, err)
	}
}

// testCheckUsage: a commit this Store did not see (planted through the
// backend, as a bug could) leaves the quota usage it caches for
// deliveries short; check finds it against the recount, and repair drops
// the cached usage, which deliveries then read from the heads.
func testCheckUsage(t testing.TB, e *env) {
	u := e.user()
	u.QuotaStorage = 1 << 30 // deliveries check the quota: the usage is cached
	if err := e.s.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	inbox := e.mailbox(u, "INBOX")
	e.appendN(u, inbox, e.msg("a"))
	h, err := e.b.Head(e.ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	m := e.msg("planted")
	next := h
	next.ModSeq++
	next.UIDNext++
	next.Messages++
	next.Unseen++
	next.Size += m.Size
	meta := store.MessageMeta{Blob: m.Blob, Size: m.Size, Structure: m.Structure, InternalDate: time.Now().UTC().Truncate(time.Second), SaveDate: time.Now().UTC().Truncate(time.Second)}
	if err := e.b.Commit(e.ctx, inbox.ID, h, next, []store.Change{{ModSeq: next.ModSeq, UID: h.UIDNext, Kind: store.ChangeAppend, Meta: &meta}}); err != nil {
		t.Fatal(err)
	}
	wantFindings(t, e.checkFindings(u, false), map[string]bool{"usage": false}, "usage")
	wantFindings(t, e.checkFindings(u, true), map[string]bool{"usage": true}, "usage")
	wantFindings(t, e.checkFindings(u, false), nil)
	us, err := e.s.Usage(e.ctx, u)
	if err != nil || us.Messages != 2 {
		t.Fatalf("usage after the repair: %+v %v, want 2 messages", us, err)
	}
}

// testCheckWhileWriting runs check --repair over and over, through
// another Store (as quire check beside a serving host), while a writer
// appends, flags and expunges: a repair commits only against the head it
// counted from, so it never undoes a write. The writes all land, no
// finding is ever made of a healthy mailbox in motion, and the mailbox
// keeps its invariants.
func testCheckWhileWriting(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	checker := e.stores(1)[0]
	const rounds = 30
	done := make(chan error, 1)
	go func() {
		defer close(done)
		for i := range rounds {
			uids, err := e.s.Append(e.ctx, u, mb, e.msg("w"))
			if err != nil {
				done <- err
				return
			}
			if _, err := e.s.StoreFlags(e.ctx, mb, uids, store.FlagsAdd, mail.Flags{mail.FlagSeen}, 0); err != nil {
				done <- err
				return
			}
			if i%3 == 0 {
				if _, err := e.s.Expunge(e.ctx, mb, uids); err != nil {
					done <- err
					return
				}
			}
		}
	}()
	// A failure ends the scenario only once the writer is done: the checks
	// that follow it (RunFaulted's) must see the mailbox at rest.
	defer func() {
		for range done {
		}
	}()
	checks := 0
	for running := true; running; checks++ {
		select {
		case err, ok := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = ok
		default:
		}
		rep, err := checker.Check(e.ctx, u, store.CheckOptions{Repair: true})
		if err != nil {
			t.Fatalf("Check while writing: %v", err)
		}
		for _, f := range rep.Findings {
			if !strings.Contains(f.Detail, "changed during every count") {
				t.Fatalf("check %d of a healthy mailbox in motion: %s", checks, f)
			}
		}
	}
	h := e.head(mb)
	if h.Messages != rounds-rounds/3 || h.UIDNext != rounds+1 || h.Unseen != 0 {
		t.Fatalf("head %+v after %d appends (a third expunged), all \\Seen", h, rounds)
	}
	e.check(mb)
	wantFindings(t, e.checkFindings(u, false), nil)
}
