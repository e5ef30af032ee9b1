package bleveindex

import (
	"testing"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/searchtest"
)

func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Index {
		x, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	})
}

// TestReopen: what was indexed survives closing and opening the index.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Put(t.Context(), []search.Doc{{UserID: "u", MailboxID: "m", UID: 9, Body: "persistent zeppelin"}}); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	got, ok, err := x.Search(t.Context(), "u", "m", "zeppelin", search.FieldBody)
	if err != nil || !ok || len(got) != 1 || got[0] != 9 {
		t.Fatalf("after reopening: %v %v %v", got, ok, err)
	}
}
