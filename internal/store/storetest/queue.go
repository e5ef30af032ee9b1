package storetest

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testIndexQueue: marks are listed per group, a later mark replaces the
// time of an earlier one, and a clear spares a mark made after its time.
func testIndexQueue(t testing.TB, e *env) {
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

// hookCall is one call an IndexHook received.
type hookCall struct {
	op, mailbox string
	uids        []mail.UID
	delivery    bool
	marked      bool // the mailbox was marked unindexed when Added came
}

type recordingHook struct {
	e     *env
	mu    sync.Mutex
	calls []hookCall
}

func (h *recordingHook) add(c hookCall) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
}

func (h *recordingHook) Added(ctx context.Context, mb store.Mailbox, added []store.MessageRow, delivery bool) {
	uids := make([]mail.UID, len(added))
	for i, r := range added {
		uids[i] = r.UID
	}
	marked := false
	if err := h.e.b.Unindexed(ctx, mb.MailHost, func(u store.Unindexed) error {
		marked = marked || u.MailboxID == mb.ID
		return nil
	}); err != nil {
		h.e.t.Errorf("list the unindexed mailboxes: %v", err)
	}
	h.add(hookCall{"added", mb.Name, slices.Clone(uids), delivery, marked})
}
func (h *recordingHook) Expunged(mb store.Mailbox, uids []mail.UID) {
	h.add(hookCall{op: "expunged", mailbox: mb.Name, uids: slices.Clone(uids)})
}
func (h *recordingHook) MailboxDeleted(mb store.Mailbox) {
	h.add(hookCall{op: "deleted", mailbox: mb.Name})
}
func (h *recordingHook) UserDeleted(u store.User) { h.add(hookCall{op: "user", mailbox: u.Address}) }

// testIndexHook: the store marks a mailbox unindexed before adding to it
// and tells the hook of every addition (deliveries flagged), expunge,
// mailbox deletion and user deletion.
func testIndexHook(t testing.TB, e *env) {
	h := &recordingHook{e: e}
	e.s.SetIndexHook(h)
	u := e.user()
	inbox, work := e.mailbox(u, "INBOX"), e.mailbox(u, "Archive")
	uids := e.appendN(u, work, e.msg("one"), e.msg("two"))
	sp, err := e.s.Spool(strings.NewReader("Subject: d\r\n\r\ndelivered\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if errs := e.s.Deliver(e.ctx, sp, "", []store.User{u}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if _, _, err := e.s.Move(e.ctx, u, work, inbox, uids[:1]); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteMailbox(e.ctx, work); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	want := []hookCall{
		{"added", "Archive", uids, false, true},
		{"added", "INBOX", []mail.UID{1}, true, true},
		{"added", "INBOX", []mail.UID{2}, false, true}, // the move's copy
		{op: "expunged", mailbox: "Archive", uids: uids[:1]},
		{op: "deleted", mailbox: "Archive"},
		{op: "user", mailbox: u.Address},
	}
	if !reflect.DeepEqual(h.calls, want) {
		t.Fatalf("hook calls\n%+v\nwant\n%+v", h.calls, want)
	}
	for _, mb := range []store.Mailbox{inbox, work} {
		if err := e.b.ClearUnindexed(e.ctx, store.Unindexed{Group: mb.MailHost, UserID: mb.UserID, MailboxID: mb.ID}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
}
