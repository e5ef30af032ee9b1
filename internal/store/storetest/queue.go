package storetest

import (
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// testIndexQueue: marks are listed per group, a later mark replaces the
// time of an earlier one, and a clear spares a mark made after its time.
func testIndexQueue(t *testing.T, e *env) {
	g1, g2 := "g-"+randHex(4), "g-"+randHex(4)
	base := time.Now().Truncate(time.Millisecond)
	a := store.Unindexed{Group: g1, UserID: "u" + randHex(4), MailboxID: "m" + randHex(4), Marked: base}
	b := store.Unindexed{Group: g1, UserID: "u" + randHex(4), MailboxID: "m" + randHex(4), Marked: base}
	c := store.Unindexed{Group: g2, UserID: a.UserID, MailboxID: "m" + randHex(4), Marked: base}
	for _, m := range []store.Unindexed{a, b, c} {
		if err := e.b.MarkUnindexed(e.ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	list := func(group string) map[string]time.Time {
		t.Helper()
		out := map[string]time.Time{}
		err := e.b.Unindexed(e.ctx, group, func(u store.Unindexed) error {
			if u.Group != group {
				t.Errorf("listing %s gave a mark of %q", group, u.Group)
			}
			out[u.UserID+"/"+u.MailboxID] = u.Marked
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := list(g1)
	if len(got) != 2 || !got[a.UserID+"/"+a.MailboxID].Equal(base) || !got[b.UserID+"/"+b.MailboxID].Equal(base) {
		t.Fatalf("group %s lists %v", g1, got)
	}
	if got := list(g2); len(got) != 1 {
		t.Fatalf("group %s lists %v", g2, got)
	}
	// A clear older than the mark spares it; one at or after removes it.
	if err := e.b.ClearUnindexed(e.ctx, a, base.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := list(g1)[a.UserID+"/"+a.MailboxID]; !ok {
		t.Fatal("a clear older than the mark removed it")
	}
	if err := e.b.ClearUnindexed(e.ctx, a, base); err != nil {
		t.Fatal(err)
	}
	if _, ok := list(g1)[a.UserID+"/"+a.MailboxID]; ok {
		t.Fatal("a clear at the mark's time left it")
	}
	// Marked again later: the time moves, and a clear between survives.
	b.Marked = base.Add(2 * time.Second)
	if err := e.b.MarkUnindexed(e.ctx, b); err != nil {
		t.Fatal(err)
	}
	if got := list(g1)[b.UserID+"/"+b.MailboxID]; !got.Equal(b.Marked) {
		t.Fatalf("re-marked at %v, listed at %v", b.Marked, got)
	}
	if err := e.b.ClearUnindexed(e.ctx, b, base.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, ok := list(g1)[b.UserID+"/"+b.MailboxID]; !ok {
		t.Fatal("a clear older than the second mark removed it")
	}
	if err := e.b.ClearUnindexed(e.ctx, b, b.Marked.Add(time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if got := list(g1); len(got) != 0 {
		t.Fatalf("group %s still lists %v", g1, got)
	}
	// Clearing what is not there is no error.
	if err := e.b.ClearUnindexed(e.ctx, a, base); err != nil {
		t.Fatal(err)
	}
}
