package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testLogTrimExpunged: the log trim drops the rows of the messages
// expunged at or below the new floor (those Expunged reported) and keeps
// everything a reader from the floor on needs. Three runs of expunged
// messages, between live ones, lie below the floor, and one run above
// it: after a pass a history past the mark, Expunged reports only the run
// above, the harness finds no stored row of the runs below, the live
// messages keep their rows, flags and MODSEQs, and Changes from the floor
// (what QRESYNC and a refresh read) is what it was. A dry run just
// before counts exactly what the pass then drops. A second trim, a
// history later, drops the run that was above the first floor.
func testLogTrimExpunged(t testing.TB, e *env) {
	// A history of 30 days: Cassandra then deletes up to 250 runs of
	// expunged rows per partition in a trim, so one trim takes all three.
	const history = 30 * 24 * time.Hour
	sc := newTrimScene(t, e, time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC), history)
	e, s, u, inbox, now := sc.e, sc.e.s, sc.u, sc.inbox, &sc.now
	pass, floorOf, flag, expunge, appendSome := sc.pass, sc.floor, sc.flag, sc.expunge, sc.appendSome
	uids := appendSome("a", 40)
	flag(uids[:2], mail.FlagSeen)
	flag(uids[7:9], "$Kept")
	var below []mail.UID // three runs: 3-6, 10, 20-24
	for _, run := range [][]mail.UID{uids[2:6], uids[9:10], uids[19:24]} {
		expunge(run)
		below = append(below, run...)
	}
	// More entries than a Cassandra test bucket holds (32) after the
	// expunges, so that their bucket is sealed before the mark's.
	uids = append(uids, appendSome("b", 40)...)
	pass(false) // marks the head
	above := uids[30:33]
	expunge(above)
	flag(uids[1:2], "$After")
	// Entries enough to seal the bucket of these changes too, before the
	// mark the trim records (the second trim's).
	appendSome("c", 40)
	all := append([]mail.UID(nil), uids...)
	expungedRows := func() []store.MessageRow {
		t.Helper()
		var out []store.MessageRow
		if err := s.Expunged(e.ctx, inbox, all, func(r store.MessageRow) error {
			out = append(out, r)
			return nil
		}); err != nil {
			t.Fatalf("Expunged: %v", err)
		}
		return out
	}
	stored := func(us []mail.UID) int {
		t.Helper()
		if e.h.StoredRows == nil {
			return -1
		}
		return e.h.StoredRows(t, e.b, inbox.ID, us)
	}
	live := e.rows(inbox)
	var liveUIDs []mail.UID
	for _, r := range live {
		liveUIDs = append(liveUIDs, r.UID)
	}
	gone := expungedRows()
	if len(gone) != len(below)+len(above) {
		t.Fatalf("Expunged before the trim reports %d messages, want %d", len(gone), len(below)+len(above))
	}
	if n := stored(below); n >= 0 && n != len(below) {
		t.Fatalf("before the trim %d of the %d expunged messages have stored rows", n, len(below))
	}
	before := e.changes(inbox, 0)

	now.Add(int64(history + time.Second))
	dry := pass(true)
	if floorOf() != 0 || len(expungedRows()) != len(gone) {
		t.Fatalf("a dry run trimmed: floor %d, %d expunged messages reported (had %d)", floorOf(), len(expungedRows()), len(gone))
	}
	st := pass(false)
	sameTrim(t, dry, st)
	floor := floorOf()
	var kept []store.MessageRow
	for _, r := range gone {
		if r.ModSeq > floor {
			kept = append(kept, r)
		} else if !slices.Contains(below, r.UID) {
			t.Fatalf("UID %d, expunged after the mark, is at or below the floor %d", r.UID, floor)
		}
	}
	if len(kept) != len(above) {
		t.Fatalf("%d of the expunged messages are above the floor %d, want the %d expunged after the mark", len(kept), floor, len(above))
	}
	if got := expungedRows(); !reflect.DeepEqual(got, kept) {
		t.Fatalf("Expunged after the trim:\n got %+v\nwant %+v (those above the floor %d, as before)", got, kept, floor)
	}
	if n := stored(below); n > 0 {
		t.Fatalf("after the trim %d of the %d messages expunged below the floor still have stored rows", n, len(below))
	}
	// Other purge scenarios' mailboxes in this backend are trimmed too.
	if st.ExpungedRows < int64(len(below)) || st.LogMailboxes < 1 {
		t.Fatalf("the pass reports %d expunged rows dropped in %d mailboxes; this mailbox alone had %d below the floor",
			st.ExpungedRows, st.LogMailboxes, len(below))
	}
	if n := stored(above); n >= 0 && n != len(above) {
		t.Fatalf("after the trim %d of the %d messages expunged above the floor have stored rows", n, len(above))
	}
	if n := stored(liveUIDs); n >= 0 && n != len(liveUIDs) {
		t.Fatalf("after the trim %d of the %d live messages have stored rows", n, len(liveUIDs))
	}
	if got := e.rows(inbox); !reflect.DeepEqual(got, live) {
		t.Fatalf("the trim changed the live rows:\n got %+v\nwant %+v", got, live)
	}
	var from []store.Change
	for _, c := range before {
		if c.ModSeq > floor {
			from = append(from, c)
		}
	}
	sameChanges(t, e.changes(inbox, uint64(floor)), from)
	if err := s.Changes(e.ctx, inbox, floor-1, func(store.Change) error { return nil }); !errors.Is(err, store.ErrLogTrimmed) {
		t.Fatalf("Changes(%d) below the floor %d: %v, want store.ErrLogTrimmed", floor-1, floor, err)
	}
	e.check(inbox)
	wantFindings(t, e.checkFindings(u, false), nil)

	// The run above the floor goes with the next trim.
	now.Add(int64(history + time.Second))
	pass(false)
	if f := floorOf(); f < kept[len(kept)-1].ModSeq {
		t.Fatalf("the second trim moved the floor to %d, below the expunge at %d", f, kept[len(kept)-1].ModSeq)
	}
	if got := expungedRows(); len(got) != 0 {
		t.Fatalf("Expunged after the second trim: %+v, want none", got)
	}
	if n := stored(append(append([]mail.UID(nil), below...), above...)); n > 0 {
		t.Fatalf("after the second trim %d expunged messages still have stored rows", n)
	}
	if n := stored(liveUIDs); n >= 0 && n != len(liveUIDs) {
		t.Fatalf("after the second trim %d of the %d live messages have stored rows", n, len(liveUIDs))
	}
	e.check(inbox)
}
