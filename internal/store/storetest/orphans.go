package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// testPurgeOrphans: the purge removes the pieces of writes whose record
// never landed (store.OrphanPurger) once they are older than the grace,
// and nothing else: a dry run removes nothing, orphans written after the
// bound stay, and a live message whose metadata was spilled, and whose
// body is larger than a chunk, reads back whole. The pass runs with a
// clock two hours ahead and a grace of one, so that what the store wrote
// just now is older than the bound, as after an hour in production.
func testPurgeOrphans(t testing.TB, e *env) {
	if e.h.PlantOrphans == nil {
		t.Skip("the harness cannot plant orphans")
	}
	if _, ok := e.b.(store.OrphanPurger); !ok {
		t.Fatalf("the harness plants orphans, but the backend %T does not purge them", e.b)
	}
	u := e.user()
	inbox := e.mailbox(u, "INBOX")
	// Metadata past Cassandra's 16 KiB inline bound is spilled before the
	// commit; a body past a chunk (256 KiB) is written chunks first.
	subject := strings.Repeat("long subject ", 2000)
	body := strings.Repeat("a line of the body of a large message\r\n", 10000)
	raw := "From: A <a@example.test>\r\nTo: b@example.test\r\nSubject: " + subject + "\r\nMessage-ID: <" + randHex(8) +
		"@example.test>\r\n\r\n" + body
	e.appendN(u, inbox, e.put(raw))
	rows := e.rows(inbox)
	now := time.Now()
	nOld, leftOld := e.h.PlantOrphans(e.tt, e.b, inbox.ID, now)
	nNew, leftNew := e.h.PlantOrphans(e.tt, e.b, inbox.ID, now.Add(3*time.Hour))
	s := e.newStore(e.b, store.Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	pass := func(dry bool) store.PurgeStats { t.Helper(); return e.purgeDry(s, time.Hour, dry) }
	found := func(st store.PurgeStats) int64 { return st.Orphans.Chunks + st.Orphans.Files + st.Orphans.Spills }
	if st := pass(true); found(st) < int64(nOld) || leftOld() != nOld {
		t.Fatalf("dry run: found %+v (planted %d older than the bound), %d of them left", st.Orphans, nOld, leftOld())
	}
	st := pass(false)
	if found(st) < int64(nOld) || leftOld() != 0 {
		t.Fatalf("the pass removed %+v; of the %d planted older than the bound, %d are left", st.Orphans, nOld, leftOld())
	}
	if leftNew() != nNew {
		t.Fatalf("the pass removed orphans written after the bound: %d of %d left", leftNew(), nNew)
	}
	if got := e.rows(inbox); len(got) != 1 || got[0].Meta.Size != rows[0].Meta.Size || !bytes.Equal(got[0].Meta.Structure, rows[0].Meta.Structure) || len(rows[0].Meta.Structure) < 16<<10 {
		t.Fatalf("after the pass the mailbox holds %+v", got)
	}
	e.readAll([]byte(raw), inbox)
	e.check(inbox)
	if st := pass(false); found(st) != 0 {
		t.Fatalf("a second pass found more orphans: %+v", st.Orphans)
	}
}
