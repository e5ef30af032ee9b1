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
func wantFindings(t *testing.T, fs []store.Finding, repaired map[string]bool, want ...string) {
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
func testCheckClean(t *testing.T, e *env) {
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
func testCheckRepair(t *testing.T, e *env) {
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

	// Sorted by mailbox name: INBOX (log, head), then Sent's body; usage
	// comes last, for the user. The quota usage is read from the heads,
	// so it is off too.
	found := e.checkFindings(u, false)
	wantFindings(t, found, map[string]bool{"log": false, "head": false, "body": false},
		"log "+itoa(uint32(uids[1])), "head", "body "+itoa(uint32(goneUID)), "usage")
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
