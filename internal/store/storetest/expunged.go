package storetest

import (
	"reflect"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testExpunged: an expunged message stays readable through Expunged, with
// its metadata, its flags when expunged and the MODSEQ of its expunge, so
// a session can still serve it (RFC 2180 4.1.1); live and unknown UIDs
// are skipped. It holds both while the expunge is fresh and after enough
// commits for a backend to fold its log (Cassandra's buckets).
func testExpunged(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	e.appendN(u, mb, e.msg("a"), e.msg("b", `\Seen`), e.msg("c"), e.msg("d"))
	if _, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{2}, store.FlagsAdd, mail.Flags{`\Flagged`}, 0); err != nil {
		t.Fatal(err)
	}
	before := e.rows(mb)
	mark := e.head(mb).ModSeq
	if _, err := e.s.Expunge(e.ctx, mb, []mail.UID{2, 3}); err != nil {
		t.Fatal(err)
	}
	var gone mail.ModSeq
	for _, c := range e.changes(mb, uint64(mark)) {
		if c.Kind == store.ChangeExpunge {
			gone = c.ModSeq
		}
	}
	want := []store.MessageRow{before[1], before[2]}
	for i := range want {
		want[i].ModSeq = gone
	}
	expunged := func() []store.MessageRow {
		t.Helper()
		var out []store.MessageRow
		if err := e.s.Expunged(e.ctx, mb, []mail.UID{9, 3, 1, 2, 4}, func(r store.MessageRow) error {
			out = append(out, r)
			return nil
		}); err != nil {
			t.Fatalf("Expunged: %v", err)
		}
		return out
	}
	if got := expunged(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Expunged after the expunge:\n got %+v\nwant %+v", got, want)
	}
	// Enough commits to roll a small log bucket and materialize it.
	for range 40 {
		if _, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{1}, store.FlagsReplace, mail.Flags{"$n" + randHex(2)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := expunged(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Expunged after 40 more commits:\n got %+v\nwant %+v", got, want)
	}
	e.check(mb)
}
