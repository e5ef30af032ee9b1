package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testRestore checks the restore path: a mailbox created with a given
// UIDVALIDITY, messages appended under given UIDs with gaps, UIDNEXT and
// MODSEQ raised to the caller's values, more chunks than one Commit holds,
// and UIDs that would go back refused before anything is committed.
func testRestore(t testing.TB, e *env) {
	u, err := e.s.CreateUserAt(e.ctx, "restored-"+randHex(6)+"@example.test", "{PLAIN}x", map[string]uint32{"INBOX": 77})
	if err != nil {
		t.Fatalf("CreateUserAt: %v", err)
	}
	e.track(u)
	if inbox, sent := e.mailbox(u, "INBOX"), e.mailbox(u, "Sent"); inbox.UIDValidity != 77 || sent.UIDValidity == 77 {
		t.Fatalf("CreateUserAt: INBOX UIDVALIDITY %d (want 77), Sent %d", inbox.UIDValidity, sent.UIDValidity)
	}
	mb, err := e.s.CreateMailboxAt(e.ctx, u, "Restored", "", 1234567)
	if err != nil {
		t.Fatalf("CreateMailboxAt: %v", err)
	}
	if got := e.mailbox(u, "Restored"); got.UIDValidity != 1234567 {
		t.Fatalf("UIDVALIDITY %d, want 1234567", got.UIDValidity)
	}
	n := e.s.Backend().MaxChangesPerCommit() + 3
	var msgs []store.RestoredMessage
	var want []mail.UID
	for i := range n {
		m := e.msg("r", `\Seen`, "Work")
		if i%2 == 1 {
			m.Flags = mail.NewFlags(`\Flagged`)
		}
		uid := mail.UID(3*i + 5)
		msgs = append(msgs, store.RestoredMessage{NewMessage: m, UID: uid})
		want = append(want, uid)
	}
	uidNext := want[n-1] + 100
	if err := e.s.AppendAt(e.ctx, mb, msgs, uidNext, 500); err != nil {
		t.Fatalf("AppendAt: %v", err)
	}
	h := e.head(mb)
	if h.UIDNext != uidNext || h.Messages != int64(n) || h.Unseen != int64(n/2) || h.ModSeq <= 500 {
		t.Fatalf("head after restore %+v", h)
	}
	rows := e.rows(mb)
	var got []mail.UID
	for i, r := range rows {
		got = append(got, r.UID)
		if r.ModSeq <= 500 || r.Meta.Blob != msgs[i].Blob || !r.Flags.Equal(msgs[i].Flags) {
			t.Fatalf("row %d: %+v, want above MODSEQ 500, blob %s, flags %v", i, r, msgs[i].Blob, msgs[i].Flags)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("UIDs %v, want %v", got, want)
	}
	// UIDs that would go back are refused, and nothing of them lands.
	for _, bad := range [][]store.RestoredMessage{
		{{NewMessage: e.msg("low"), UID: uidNext - 1}},
		{{NewMessage: e.msg("a"), UID: 2000}, {NewMessage: e.msg("b"), UID: 2000}},
	} {
		if err := e.s.AppendAt(e.ctx, mb, bad, 0, 0); !errors.Is(err, store.ErrUIDOrder) {
			t.Fatalf("AppendAt of %d..: %v, want ErrUIDOrder", bad[0].UID, err)
		}
	}
	if h2 := e.head(mb); h2 != h {
		t.Fatalf("a refused restore moved the head: %+v -> %+v", h, h2)
	}
	// Append continues from the restored UIDNEXT.
	if uids := e.appendN(u, mb, e.msg("after")); !slices.Equal(uids, []mail.UID{uidNext}) {
		t.Fatalf("Append after restore: %v, want [%d]", uids, uidNext)
	}
	e.check(mb)
}
