package cassandra

import (
	"context"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestLargeMeta commits metadata too large to inline: a 100 KiB structure,
// and 64 appends whose total exceeds the inline budget. Both are spilled to
// metaspill before the LWT and read back (TestFaultLargeMetaLazy: without
// materializing).
func TestLargeMeta(t *testing.T) {
	largeMeta(t, openTest(t, nil), false)
}

// largeMeta is TestLargeMeta on b, which materializes unless lazy.
func largeMeta(t *testing.T, b *Backend, lazy bool) {
	ctx := context.Background()
	mb := newMailbox(t, b)
	h, _ := b.Head(ctx, mb.ID)
	next := h
	next.ModSeq++
	var cs []store.Change
	for i := range maxChanges {
		size := 4000
		if i == 3 {
			size = 100 << 10
		}
		uid := next.UIDNext
		cs = append(cs, store.Change{ModSeq: next.ModSeq, UID: uid, Kind: store.ChangeAppend, Flags: mail.Flags{}, Meta: testMeta(uid, size)})
		next.UIDNext++
		next.Messages++
		next.Unseen++
	}
	es, err := b.entries(ctx, mb.ID, cs)
	if err != nil {
		t.Fatal(err)
	}
	spilled := 0
	for _, e := range es {
		if e.metaID != nil {
			spilled++
		}
	}
	if spilled < 10 || es[3].metaID == nil || es[0].metaID != nil {
		t.Fatalf("%d of %d spilled (entry 3: %v)", spilled, len(es), es[3].metaID != nil)
	}
	if err := b.Commit(ctx, mb.ID, h, next, cs); err != nil {
		t.Fatal(err)
	}
	for _, reader := range []*Backend{b, openTest(t, nil)} {
		rows, got := collect(t, reader, mb.ID)
		if len(rows) != maxChanges || len(got) != maxChanges {
			t.Fatalf("lazy=%v: %d rows, %d changes", lazy, len(rows), len(got))
		}
		for i := range rows {
			want := cs[i].Meta
			if rows[i].Meta.EmailID != want.EmailID || len(rows[i].Meta.Structure) != len(want.Structure) ||
				got[i].Meta.EmailID != want.EmailID || len(got[i].Meta.Structure) != len(want.Structure) {
				t.Fatalf("lazy=%v: UID %d metadata differs", lazy, rows[i].UID)
			}
		}
	}
}
