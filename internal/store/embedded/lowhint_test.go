package embedded

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestLowHint: a scan from UID 1 after the oldest messages were expunged
// raises the mailbox's hint to its first row, later scans start there
// and still see every row, and an append below the hint (which the store
// never makes) drops it.
func TestLowHint(t *testing.T) {
	ctx := context.Background()
	b, err := Open(t.TempDir(), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := store.New(b, store.Options{})
	u, err := st.CreateUser(ctx, "low@example.org", "{PLAIN}x")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		sp, err := st.Spool(strings.NewReader(fmt.Sprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i)), 0)
		if err != nil {
			t.Fatal(err)
		}
		if errs := st.Deliver(ctx, sp, "", []store.User{u}); errs[0] != nil {
			t.Fatal(errs[0])
		}
		sp.Close()
	}
	mb, err := st.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids := func(lo, hi mail.UID) []mail.UID {
		var out []mail.UID
		if err := b.States(ctx, mb.ID, lo, hi, func(s store.MessageState) error { out = append(out, s.UID); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := st.Expunge(ctx, mb, []mail.UID{1, 2, 3, 4, 5, 7}); err != nil {
		t.Fatal(err)
	}
	if got := uids(1, 0); !slices.Equal(got, []mail.UID{6, 8, 9, 10}) || b.low.get(mb.ID) != 6 {
		t.Fatalf("scan from 1: %v, hint %d; want [6 8 9 10], hint 6", got, b.low.get(mb.ID))
	}
	if got := uids(3, 3); len(got) != 0 {
		t.Fatalf("UID 3, below the hint: %v", got)
	}
	if got := uids(7, 9); !slices.Equal(got, []mail.UID{8, 9}) || b.low.get(mb.ID) != 6 {
		t.Fatalf("UIDs 7:9: %v, hint %d; a scan from above the hint must not raise it", got, b.low.get(mb.ID))
	}
	if _, err := st.Expunge(ctx, mb, []mail.UID{6}); err != nil {
		t.Fatal(err)
	}
	if got := uids(2, 0); !slices.Equal(got, []mail.UID{8, 9, 10}) || b.low.get(mb.ID) != 8 {
		t.Fatalf("scan from 2 after expunging 6: %v, hint %d; want [8 9 10], hint 8", got, b.low.get(mb.ID))
	}
	// An append below the hint, straight to the backend.
	h, err := b.Head(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	next := h
	next.ModSeq++
	meta := store.MessageMeta{Blob: "x", Size: 1}
	if err := b.Commit(ctx, mb.ID, h, next, []store.Change{{ModSeq: next.ModSeq, UID: 2, Kind: store.ChangeAppend, Meta: &meta}}); err != nil {
		t.Fatal(err)
	}
	if got := uids(1, 0); !slices.Equal(got, []mail.UID{2, 8, 9, 10}) {
		t.Fatalf("after an append below the hint: %v", got)
	}
}
