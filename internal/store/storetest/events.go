package storetest

import (
	"sync"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testEvents: every committed change, and every mailbox create, rename and
// delete, is published once, with the owner's mailHost so the notifier can
// route it to the user's store affinity group.
func testEvents(t testing.TB, e *env) {
	var mu sync.Mutex
	var got []mail.Event
	s := e.newStore(e.b, store.Options{Publish: func(ev mail.Event) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
	}})
	take := func() []mail.Event {
		mu.Lock()
		defer mu.Unlock()
		out := got
		got = nil
		return out
	}
	u := e.user()
	u.MailHost = "east"
	want := func(what string, mb store.Mailbox, modseq mail.ModSeq) {
		t.Helper()
		evs := take()
		w := mail.Event{UserID: u.ID, MailboxID: mb.ID, ModSeq: modseq, MailHost: "east"}
		if len(evs) != 1 || evs[0] != w {
			t.Fatalf("%s: events %+v, want [%+v]", what, evs, w)
		}
	}
	mb, err := s.CreateMailbox(e.ctx, u, "Events", "")
	if err != nil {
		t.Fatal(err)
	}
	want("create", mb, 0)
	if _, err := s.Append(e.ctx, u, mb, e.msg("a")); err != nil {
		t.Fatal(err)
	}
	want("append", mb, e.head(mb).ModSeq)
	if _, err := s.StoreFlags(e.ctx, mb, []mail.UID{1}, store.FlagsAdd, mail.NewFlags(`\Deleted`), 0); err != nil {
		t.Fatal(err)
	}
	want("flags", mb, e.head(mb).ModSeq)
	if _, err := s.Expunge(e.ctx, mb, []mail.UID{1}); err != nil {
		t.Fatal(err)
	}
	want("expunge", mb, e.head(mb).ModSeq)
	if mb, err = s.RenameMailbox(e.ctx, mb, "Events2"); err != nil {
		t.Fatal(err)
	}
	want("rename", mb, 0)
	if err := s.DeleteMailbox(e.ctx, mb); err != nil {
		t.Fatal(err)
	}
	want("delete", mb, 0)
	looked, err := s.Mailbox(e.ctx, u, "INBOX")
	if err != nil || looked.MailHost != "east" {
		t.Fatalf("Mailbox carries mailHost %q, %v", looked.MailHost, err)
	}
}
