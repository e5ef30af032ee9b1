package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

func testAppendUIDs(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	date := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	m1 := e.msg("first")
	m1.InternalDate, m1.ReturnPath = date, "sender@example.test"
	uids := e.appendN(u, mb, m1)
	more := e.appendN(u, mb, e.msg("second", `\Seen`), e.msg("third", `\Deleted`, "$Label1"))
	if !slices.Equal(uids, []mail.UID{1}) || !slices.Equal(more, []mail.UID{2, 3}) {
		t.Fatalf("UIDs %v %v, want [1] [2 3]", uids, more)
	}
	h := e.head(mb)
	if h.UIDNext != 4 || h.Messages != 3 || h.Unseen != 2 || h.Deleted != 1 || h.ModSeq != 3 {
		t.Fatalf("head %+v", h)
	}
	rows := e.rows(mb)
	r := rows[0]
	if r.Meta.Blob != m1.Blob || r.Meta.Size != m1.Size || !r.Meta.InternalDate.Equal(date) ||
		r.Meta.ReturnPath != "sender@example.test" || string(r.Meta.Structure) != string(m1.Structure) ||
		r.Meta.EmailID == "" || r.Meta.SaveDate.IsZero() {
		t.Fatalf("row 1 meta %+v", r.Meta)
	}
	if rows[1].ModSeq != rows[2].ModSeq || rows[1].ModSeq <= rows[0].ModSeq {
		t.Fatalf("one Append shares one MODSEQ, later than before: %d %d %d", rows[0].ModSeq, rows[1].ModSeq, rows[2].ModSeq)
	}
	if !rows[2].Flags.Equal(mail.NewFlags(`\Deleted`, "$Label1")) {
		t.Fatalf("flags %v", rows[2].Flags)
	}
	// \Recent is never stored.
	e.appendN(u, mb, e.msg("recent", `\Recent`, `\Flagged`))
	if got := e.rows(mb)[3].Flags; !got.Equal(mail.Flags{`\Flagged`}) {
		t.Fatalf("flags with \\Recent: %v", got)
	}
	// Range reads.
	var got []mail.UID
	err := e.s.Messages(e.ctx, mb, 2, 3, func(r store.MessageRow) error { got = append(got, r.UID); return nil })
	if err != nil || !slices.Equal(got, []mail.UID{2, 3}) {
		t.Fatalf("Messages(2,3) = %v, %v", got, err)
	}
	e.check(mb)
}

func testFlags(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	e.appendN(u, mb, e.msg("a"), e.msg("b"), e.msg("c", `\Seen`))
	before := e.head(mb)
	res, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{1, 2, 9}, store.FlagsAdd, mail.NewFlags(`\seen`, "Work"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || !res.Rows[0].Flags.Equal(mail.Flags{`\Seen`, "Work"}) || res.Rows[0].ModSeq <= before.ModSeq {
		t.Fatalf("StoreFlags result %+v", res)
	}
	h := e.head(mb)
	if h.Unseen != 0 || h.ModSeq != before.ModSeq+1 {
		t.Fatalf("head after +FLAGS %+v", h)
	}
	// A no-op change keeps MODSEQ (RFC 7162 3.1).
	if res, err = e.s.StoreFlags(e.ctx, mb, []mail.UID{3}, store.FlagsAdd, mail.Flags{`\Seen`}, 0); err != nil {
		t.Fatal(err)
	}
	if e.head(mb).ModSeq != h.ModSeq || res.Rows[0].ModSeq != e.rows(mb)[2].ModSeq {
		t.Fatalf("no-op STORE changed MODSEQ")
	}
	if _, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{1}, store.FlagsRemove, mail.Flags{"work"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{2, 3}, store.FlagsReplace, mail.Flags{`\Deleted`}, 0); err != nil {
		t.Fatal(err)
	}
	rows := e.rows(mb)
	if !rows[0].Flags.Equal(mail.Flags{`\Seen`}) || !rows[1].Flags.Equal(mail.Flags{`\Deleted`}) {
		t.Fatalf("flags %v %v", rows[0].Flags, rows[1].Flags)
	}
	if h := e.head(mb); h.Unseen != 2 || h.Deleted != 2 {
		t.Fatalf("counts %+v", h)
	}
	e.check(mb)
}

func testUnchangedSince(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	e.appendN(u, mb, e.msg("a"))
	e.appendN(u, mb, e.msg("b"))
	rows := e.rows(mb)
	// RFC 7162 3.1.3: messages changed after UNCHANGEDSINCE are not stored.
	res, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{1, 2}, store.FlagsAdd, mail.Flags{`\Flagged`}, rows[0].ModSeq)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Modified, []mail.UID{2}) || len(res.Rows) != 1 || res.Rows[0].UID != 1 {
		t.Fatalf("UNCHANGEDSINCE result %+v", res)
	}
	if e.rows(mb)[1].Flags.Has(`\Flagged`) {
		t.Fatal("message 2 was changed despite UNCHANGEDSINCE")
	}
	e.check(mb)
}

func testExpunge(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	e.appendN(u, mb, e.msg("a"), e.msg("b", `\Deleted`), e.msg("c", `\Seen`, `\Deleted`))
	gone, err := e.s.Expunge(e.ctx, mb, []mail.UID{3, 2, 2, 7})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []mail.UID{2, 3}) {
		t.Fatalf("expunged %v", gone)
	}
	rows := e.rows(mb)
	if len(rows) != 1 || rows[0].UID != 1 {
		t.Fatalf("rows after expunge %v", rows)
	}
	h := e.head(mb)
	if h.Messages != 1 || h.Deleted != 0 || h.Unseen != 1 || h.UIDNext != 4 {
		t.Fatalf("head after expunge %+v", h)
	}
	// UIDs are never reused.
	if uids := e.appendN(u, mb, e.msg("d")); uids[0] != 4 {
		t.Fatalf("UID after expunge %v", uids)
	}
	if gone, err := e.s.Expunge(e.ctx, mb, []mail.UID{2}); err != nil || len(gone) != 0 {
		t.Fatalf("second expunge of 2: %v, %v", gone, err)
	}
	e.check(mb)
}

func testChangeLog(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	e.appendN(u, mb, e.msg("a"), e.msg("b"))
	mark := e.head(mb).ModSeq
	if _, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{1}, store.FlagsAdd, mail.Flags{`\Answered`}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Expunge(e.ctx, mb, []mail.UID{2}); err != nil {
		t.Fatal(err)
	}
	e.appendN(u, mb, e.msg("c"))
	cs := e.changes(mb, uint64(mark))
	type kv struct {
		k   store.ChangeKind
		uid mail.UID
	}
	var got []kv
	for _, c := range cs {
		got = append(got, kv{c.Kind, c.UID})
		if c.ModSeq <= mark {
			t.Fatalf("change at %d returned for since=%d", c.ModSeq, mark)
		}
	}
	want := []kv{{store.ChangeFlags, 1}, {store.ChangeExpunge, 2}, {store.ChangeAppend, 3}}
	if !slices.Equal(got, want) {
		t.Fatalf("changes since %d: %v, want %v", mark, got, want)
	}
	if cs[2].Meta == nil || cs[2].Meta.Size == 0 {
		t.Fatal("append change carries no Meta")
	}
	if !cs[0].Flags.Equal(mail.Flags{`\Answered`}) {
		t.Fatalf("flags change %v", cs[0].Flags)
	}
	if cs[1].ModSeq >= cs[2].ModSeq || cs[0].ModSeq >= cs[1].ModSeq {
		t.Fatalf("MODSEQs not increasing: %d %d %d", cs[0].ModSeq, cs[1].ModSeq, cs[2].ModSeq)
	}
	if len(e.changes(mb, uint64(e.head(mb).ModSeq))) != 0 {
		t.Fatal("changes since HIGHESTMODSEQ not empty")
	}
	e.check(mb)
}

func testCopyMove(t testing.TB, e *env) {
	u := e.user()
	in, arch := e.mailbox(u, "INBOX"), e.mailbox(u, "Archive")
	e.appendN(u, in, e.msg("a", `\Seen`), e.msg("b"), e.msg("c"))
	from, to, err := e.s.Copy(e.ctx, u, in, arch, []mail.UID{3, 1, 42})
	if err != nil || !slices.Equal(from, []mail.UID{1, 3}) || !slices.Equal(to, []mail.UID{1, 2}) {
		t.Fatalf("Copy: %v %v %v", from, to, err)
	}
	src, dst := e.rows(in), e.rows(arch)
	if dst[0].Meta.Blob != src[0].Meta.Blob || dst[0].Meta.EmailID != src[0].Meta.EmailID || !dst[0].Flags.Equal(src[0].Flags) {
		t.Fatalf("copy does not share body/EMAILID/flags: %+v vs %+v", dst[0], src[0])
	}
	from, to, err = e.s.Move(e.ctx, u, in, arch, []mail.UID{2})
	if err != nil || !slices.Equal(from, []mail.UID{2}) || !slices.Equal(to, []mail.UID{3}) {
		t.Fatalf("Move: %v %v %v", from, to, err)
	}
	if n := len(e.rows(in)); n != 2 {
		t.Fatalf("INBOX has %d after move", n)
	}
	if n := len(e.rows(arch)); n != 3 {
		t.Fatalf("Archive has %d after move", n)
	}
	e.check(in)
	e.check(arch)
}

func testQuota(t testing.TB, e *env) {
	u := e.user()
	in := e.mailbox(u, "INBOX")
	m := e.msg("q")
	u.QuotaMessages = 2
	if err := e.s.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	e.appendN(u, in, m, m)
	if _, err := e.s.Append(e.ctx, u, in, m); !errors.Is(err, mail.ErrOverQuota) {
		t.Fatalf("third message: %v, want ErrOverQuota", err)
	}
	if _, _, err := e.s.Copy(e.ctx, u, in, e.mailbox(u, "Archive"), []mail.UID{1}); !errors.Is(err, mail.ErrOverQuota) {
		t.Fatalf("copy over quota: %v", err)
	}
	u.QuotaMessages, u.QuotaStorage = 0, 3*m.Size-1
	if err := e.s.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Append(e.ctx, u, e.mailbox(u, "Drafts"), m); !errors.Is(err, mail.ErrOverQuota) {
		t.Fatalf("storage over quota (usage counts every mailbox): %v", err)
	}
	us, err := e.s.Usage(e.ctx, u)
	if err != nil || us.Messages != 2 || us.Storage != 2*m.Size {
		t.Fatalf("Usage %+v %v", us, err)
	}
	if _, err := e.s.Expunge(e.ctx, in, []mail.UID{1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Append(e.ctx, u, in, m); err != nil {
		t.Fatalf("append after expunge freed space: %v", err)
	}
	e.check(in)
}
