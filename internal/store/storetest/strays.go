package storetest

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testPurgeStrays: the purge frees the rows of mailboxes no record
// reaches (store.StrayPurger), and the bodies only they referenced. The
// harness plants two: a mailbox whose record it deletes right after its
// creation (the head alone, as a creation whose record never landed
// leaves it), and one that received three messages, one expunged, first
// (as a creation that raced its user's deletion, then appended to). A dry
// run counts them and frees nothing; on a backend that waits for the
// grace, a pass within it frees nothing; then the passes free every row
// stored under their ids, and the bodies, while the user's INBOX message
// reads back whole and passes CheckMailbox. The passes run with a clock
// hours ahead and a grace of one hour, so that what the store wrote just
// now is older than the bound, as after an hour in production.
func testPurgeStrays(t testing.TB, e *env) {
	if e.h.PlantStray == nil {
		t.Skip("the harness cannot plant stray mailboxes")
	}
	if _, ok := e.b.(store.StrayPurger); !ok {
		t.Fatalf("the harness plants stray mailboxes, but the backend %T does not purge them", e.b)
	}
	u := e.user()
	inbox := e.mailbox(u, "INBOX")
	raw := "From: A <a@example.test>\r\nSubject: live\r\nMessage-ID: <" + randHex(8) + "@example.test>\r\n\r\nthe live message\r\n"
	e.appendN(u, inbox, e.put(raw))
	bare, err := e.s.CreateMailbox(e.ctx, u, "Bare"+randHex(3), "")
	if err != nil {
		t.Fatalf("CreateMailbox: %v", err)
	}
	half, err := e.s.CreateMailbox(e.ctx, u, "Half"+randHex(3), "")
	if err != nil {
		t.Fatalf("CreateMailbox: %v", err)
	}
	var bodies []store.BlobID
	for i := range 3 {
		m := e.msg("in a stray mailbox " + string(rune('a'+i)))
		bodies = append(bodies, m.Blob)
		e.appendN(u, half, m)
	}
	if _, err := e.s.StoreFlags(e.ctx, half, []mail.UID{2}, store.FlagsAdd, mail.NewFlags(mail.FlagDeleted), 0); err != nil {
		t.Fatalf("StoreFlags: %v", err)
	}
	if _, err := e.s.Expunge(e.ctx, half, []mail.UID{2}); err != nil {
		t.Fatalf("Expunge: %v", err)
	}
	leftBare := e.h.PlantStray(e.tt, e.b, bare)
	leftHalf := e.h.PlantStray(e.tt, e.b, half)
	nBare, nHalf := leftBare(), leftHalf()
	if nBare == 0 || nHalf == 0 {
		t.Fatalf("the planted stray mailboxes hold %d and %d rows", nBare, nHalf)
	}
	for _, name := range []string{bare.Name, half.Name} {
		if _, err := e.s.Mailbox(e.ctx, u, name); err == nil {
			t.Fatalf("the planted stray %s is still reachable by its name", name)
		}
	}
	var ahead atomic.Int64
	s := e.newStore(e.b, store.Options{Now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	pass := func(dry bool) store.PurgeStats { t.Helper(); return e.purgeDry(s, time.Hour, dry) }
	intact := func(when string) {
		t.Helper()
		if l, h := leftBare(), leftHalf(); l != nBare || h != nHalf {
			t.Fatalf("%s: the strays hold %d and %d rows, had %d and %d", when, l, h, nBare, nHalf)
		}
	}
	ahead.Store(int64(2 * time.Hour))
	if st := pass(true); st.StrayMailboxes < 2 {
		t.Fatalf("a dry run found %d stray mailboxes, want at least the 2 planted", st.StrayMailboxes)
	}
	intact("after a dry run")
	if e.h.StrayGrace {
		ahead.Store(0)
		pass(false)
		intact("after a pass within the grace")
		ahead.Store(int64(2 * time.Hour))
	}
	if st := pass(false); st.StrayMailboxes < 2 {
		t.Fatalf("the pass found %d stray mailboxes, want at least the 2 planted", st.StrayMailboxes)
	}
	// A backend that hands a stray to the deleted mailboxes' purge drops
	// its rows in a pass the grace later; the bodies marked unreferenced
	// by the passes before go with a pass the grace after their mark.
	ahead.Store(int64(4 * time.Hour))
	pass(false)
	ahead.Store(int64(6 * time.Hour))
	st := pass(false)
	if l, h := leftBare(), leftHalf(); l != 0 || h != 0 {
		t.Fatalf("after the passes the strays still hold %d and %d rows", l, h)
	}
	for _, id := range bodies {
		if e.stored(id) {
			t.Fatalf("body %s, referenced only by the stray mailbox, is still stored", id)
		}
	}
	if st.StrayMailboxes != 0 {
		t.Fatalf("the last pass found %d stray mailboxes; the planted ones are gone", st.StrayMailboxes)
	}
	if n := e.readAll([]byte(raw), inbox); n != 1 {
		t.Fatalf("INBOX reads %d messages, want 1", n)
	}
	e.check(inbox)
}
