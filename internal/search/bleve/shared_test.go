package bleveindex

import (
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/search"
)

// TestSharedDocumentOnce: a batch's documents of one text are one bleve
// document, whose ID names its members.
func TestSharedDocumentOnce(t *testing.T) {
	x := openTemp(t)
	ctx := t.Context()
	var docs []search.Doc
	for i, u := range []string{"ua", "ub", "uc"} {
		docs = append(docs, search.Doc{UserID: u, MailboxID: "inbox", UID: uint32(i + 1), Body: "one text for three"})
	}
	if err := x.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	n, err := x.idx.DocCount()
	if err != nil || n != 1 {
		t.Fatalf("%d documents (%v), want 1", n, err)
	}
	ids, err := x.ids(ctx, scope("ub", "inbox"))
	if err != nil || len(ids) != 1 || !isShared(ids[0]) {
		t.Fatalf("ub's documents: %q (%v)", ids, err)
	}
	if got, want := membersOf(ids[0]), []string{"ua/inbox/1", "ub/inbox/2", "uc/inbox/3"}; !slices.Equal(got, want) {
		t.Errorf("members %q, want %q", got, want)
	}
	// The last member gone, the document goes.
	for _, d := range docs {
		if err := x.Delete(ctx, d.UserID, d.MailboxID, []uint32{d.UID}); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.flushDeletes(); err != nil {
		t.Fatal(err)
	}
	if n, _ := x.idx.DocCount(); n != 0 {
		t.Errorf("%d documents after every member's deletion, want 0", n)
	}
}

// TestPendingSharedDeletion: a shared document whose last member left in
// a batch that bleve never applied (a crash between the member keys and
// bleve) is deleted by the next batch, and its pending key goes.
func TestPendingSharedDeletion(t *testing.T) {
	x := openTemp(t)
	ctx := t.Context()
	docs := []search.Doc{
		{UserID: "ua", MailboxID: "inbox", UID: 1, Body: "orphaned text"},
		{UserID: "ub", MailboxID: "inbox", UID: 1, Body: "orphaned text"},
	}
	if err := x.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	ids, err := x.ids(ctx, scope("ua", "inbox"))
	if err != nil || len(ids) != 1 {
		t.Fatalf("%q %v", ids, err)
	}
	// What a deletion of both members writes before bleve's batch.
	m := &membership{set: map[string]string{}, unset: []string{"ua/inbox/1", "ub/inbox/1"}}
	if err := x.plan(m); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.emptied, ids) {
		t.Fatalf("emptied %q, want %q", m.emptied, ids)
	}
	b, err := x.membershipBatch(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if n, _ := x.idx.DocCount(); n != 1 {
		t.Fatalf("%d documents before the next batch, want 1", n)
	}
	if err := x.Put(ctx, []search.Doc{{UserID: "uc", MailboxID: "inbox", UID: 1, Body: "unrelated"}}); err != nil {
		t.Fatal(err)
	}
	if d, err := x.idx.Document(ids[0]); err != nil || d != nil {
		t.Errorf("the orphaned shared document is still there (%v)", err)
	}
	if p, err := x.pendingDeletes(); err != nil || len(p) != 0 {
		t.Errorf("pending deletions %q (%v), want none", p, err)
	}
}
