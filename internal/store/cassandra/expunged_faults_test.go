//go:build quirefaults

package cassandra

import (
	"context"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestFaultExpungedAfterLostMaterialization: a flag change whose
// materialization failed, then the message's expunge, materialized: the
// state row says MODSEQ of the expunge but holds the flags from before
// the change. Expunged must still serve the flags the message had when
// it was expunged (the change is in the log above the watermark). Before,
// replaying the log skipped every entry below the row's MODSEQ, and the
// flag change was lost (found by TestFaultConformance, Expunged).
func TestFaultExpungedAfterLostMaterialization(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, nil)
	mb := newMailbox(t, b)
	s := store.New(b, store.Options{})
	meta := testMeta(1, 100)
	m := store.NewMessage{Blob: meta.Blob, Size: meta.Size, Structure: meta.Structure}
	if _, err := s.Append(ctx, store.User{}, mb, m, m); err != nil {
		t.Fatal(err)
	}
	b.bg.Wait() // the append materialized
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.Background && strings.Contains(s.CQL, "SET modseq = ?, flags = ?") {
			return NoResponse
		}
		return Pass
	}})
	if _, err := s.StoreFlags(ctx, mb, []mail.UID{1}, store.FlagsAdd, mail.Flags{`\Flagged`}, 0); err != nil {
		t.Fatal(err)
	}
	b.bg.Wait() // its materialization failed
	b.SetFaults(Faults{})
	if _, err := s.Expunge(ctx, mb, []mail.UID{1}); err != nil {
		t.Fatal(err)
	}
	b.bg.Wait() // the expunge materialized
	// This host, and one without its cache.
	for _, r := range []*Backend{b, openTest(t, nil)} {
		var got []store.MessageRow
		if err := r.Expunged(ctx, mb.ID, []mail.UID{1}, func(row store.MessageRow) error { got = append(got, row); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Flags.Equal(mail.Flags{`\Flagged`}) || got[0].ModSeq != 4 {
			t.Fatalf("Expunged: %+v; want UID 1 with flags [\\Flagged] at the expunge's MODSEQ 4", got)
		}
	}
}
