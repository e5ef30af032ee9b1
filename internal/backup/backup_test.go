package backup_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/store/embedded"
)

const addr = "erin@example.org"

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	b, err := embedded.Open(dir, embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return store.New(b, store.Options{})
}

// msgSnap and boxSnap are what a client can see of a mailbox.
type msgSnap struct {
	UID          mail.UID
	Flags        mail.Flags
	Body         string
	InternalDate time.Time
	ModSeq       mail.ModSeq
	EmailID      string
	ReturnPath   string
}

type boxSnap struct {
	UIDValidity uint32
	UIDNext     mail.UID
	ModSeq      mail.ModSeq
	SpecialUse  string
	Messages    []msgSnap
}

func snapshot(t *testing.T, s *store.Store, u store.User) map[string]boxSnap {
	t.Helper()
	ctx := context.Background()
	mbs, err := s.Mailboxes(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]boxSnap{}
	for _, mb := range mbs {
		h, err := s.Status(ctx, mb)
		if err != nil {
			t.Fatal(err)
		}
		b := boxSnap{UIDValidity: mb.UIDValidity, UIDNext: h.UIDNext, ModSeq: h.ModSeq, SpecialUse: mb.SpecialUse}
		err = s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
			blob, err := s.OpenBody(ctx, r.Meta)
			if err != nil {
				return err
			}
			defer blob.Close()
			body, err := io.ReadAll(io.NewSectionReader(blob, 0, blob.Size()))
			b.Messages = append(b.Messages, msgSnap{UID: r.UID, Flags: mail.NewFlags(r.Flags...), Body: string(body),
				InternalDate: r.Meta.InternalDate, ModSeq: r.ModSeq, EmailID: r.Meta.EmailID, ReturnPath: r.Meta.ReturnPath})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		out[mb.Name] = b
	}
	return out
}

// put stores raw and returns it ready to append.
func put(t *testing.T, s *store.Store, raw string, date time.Time, flags ...string) store.NewMessage {
	t.Helper()
	sp, err := s.Spool(strings.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := s.PutBody(context.Background(), sp); err != nil {
		t.Fatal(err)
	}
	return store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure, InternalDate: date,
		Flags: mail.NewFlags(flags...), ReturnPath: "bob@example.net"}
}

// fill gives the user a little of everything an export must carry: gaps
// in UIDs, CRLF and LF bodies, system flags and keywords (more than a
// Maildir file name can hold in one folder), nested and non-ASCII and
// dotted names, subscriptions and a quota.
func fill(t *testing.T, s *store.Store) store.User { t.Helper(); return fillAs(t, s, addr) }

// fillAs is fill for the user address.
func fillAs(t *testing.T, s *store.Store, address string) store.User {
	t.Helper()
	ctx := context.Background()
	u, err := s.CreateUser(ctx, address, "{PLAIN}pw")
	if err != nil {
		t.Fatal(err)
	}
	u.QuotaStorage, u.QuotaMessages = 10<<20, 500
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	inbox, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []store.NewMessage
	for i := range 6 {
		raw := fmt.Sprintf("From: bob@example.net\r\nSubject: m%d\r\n\r\nline one\r\nline two %d\r\n", i, i)
		if i == 2 {
			raw = "From: bob@example.net\nSubject: bare LF\n\nbare\nlines\n"
		}
		msgs = append(msgs, put(t, s, raw, date.Add(time.Duration(i)*time.Hour), `\Seen`))
	}
	msgs[1].Flags = mail.NewFlags(`\Answered`, `\Flagged`, "$Forwarded", "work")
	msgs[3].Flags = mail.NewFlags(`\Deleted`, `\Draft`, "$Junk")
	if _, err := s.Append(ctx, u, inbox, msgs...); err != nil {
		t.Fatal(err)
	}
	// A gap (UID 5 expunged), a flag change, and UIDNEXT above the last UID.
	if _, err := s.Expunge(ctx, inbox, []mail.UID{5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, inbox, []mail.UID{6}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StoreFlags(ctx, inbox, []mail.UID{1}, store.FlagsAdd, mail.Flags{"later"}, 0); err != nil {
		t.Fatal(err)
	}
	var kws []string
	for i := range 30 {
		kws = append(kws, fmt.Sprintf("kw%02d", i))
	}
	for _, name := range []string{"Archive/2024", "Entwürfe", "v1.2"} {
		mb, err := s.CreateMailbox(ctx, u, name, "")
		if err != nil {
			t.Fatal(err)
		}
		m := put(t, s, "Subject: in "+name+"\r\n\r\nbody\r\n", date, kws...)
		if _, err := s.Append(ctx, u, mb, m, put(t, s, "Subject: two\r\n\r\n2\r\n", date, `\Seen`, "kw29")); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"INBOX", "Archive/2024", "Entwürfe", "Gone"} {
		if err := s.SetSubscribed(ctx, u, name, true); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

// TestRoundTrip exports a user and restores it into a fresh data
// directory, where "quire user add" made the user: every mailbox comes
// back with its UIDVALIDITY, UIDs, UIDNEXT, flags, keywords, dates and
// bodies, byte for byte; MODSEQs only go up; subscriptions and quota
// come back too. A second restore adds nothing.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src := openStore(t, t.TempDir())
	u := fill(t, src)
	before := snapshot(t, src, u)
	dir := filepath.Join(t.TempDir(), "export")
	rep, err := backup.Export(ctx, src, addr, dir)
	if err != nil {
		t.Fatal(err)
	}
	srcSubs, err := src.Subscriptions(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mailboxes) != 9 || rep.Subscriptions != len(srcSubs) || !slices.Contains(srcSubs, "Gone") {
		t.Fatalf("export report %+v, subscriptions %q", rep, srcSubs)
	}
	if rep.Mailboxes[4].Name != "INBOX" || rep.Mailboxes[4].Messages != 4 {
		t.Fatalf("export report %+v", rep)
	}
	if _, err := backup.Export(ctx, src, addr, dir); err == nil {
		t.Fatal("an export into a non-empty directory was accepted")
	}

	// The user does not exist: the restore recreates it, password hash,
	// INBOX's UIDVALIDITY and all.
	dst := openStore(t, t.TempDir())
	if _, err := backup.Restore(ctx, dst, addr, dir, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	u2, err := dst.User(ctx, addr)
	if err != nil || u2.PasswordHash != u.PasswordHash {
		t.Fatalf("restored user %+v, %v; want the password hash %q", u2, err, u.PasswordHash)
	}
	after := snapshot(t, dst, u2)
	compare(t, before, after, 0, nil)
	subs, err := dst.Subscriptions(ctx, u2)
	if err != nil || !slices.Equal(subs, srcSubs) {
		t.Fatalf("subscriptions %q, %v", subs, err)
	}
	got, err := dst.User(ctx, addr)
	if err != nil || got.QuotaStorage != 10<<20 || got.QuotaMessages != 500 {
		t.Fatalf("quota %d/%d, %v", got.QuotaStorage, got.QuotaMessages, err)
	}

	// Restoring again finds every body in place and adds nothing.
	rep, err = backup.Restore(ctx, dst, addr, dir, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Mailboxes {
		if m.Messages != 0 || m.Skipped != len(before[m.Name].Messages) {
			t.Fatalf("second restore of %s: %+v", m.Name, m)
		}
	}
	if again := snapshot(t, dst, u2); !reflect.DeepEqual(again, after) {
		t.Fatal("a second restore changed the mailboxes")
	}
}

// compare checks that after holds before's messages with UIDs raised by
// offset: same bodies, flags, dates, EMAILIDs and return paths; MODSEQs
// above before's HIGHESTMODSEQ. With no offset, UIDVALIDITY and UIDNEXT
// are before's too, but for the mailboxes in ownUIDValidity.
func compare(t *testing.T, before, after map[string]boxSnap, offset mail.UID, ownUIDValidity map[string]bool) {
	t.Helper()
	if len(after) != len(before) {
		t.Fatalf("%d mailboxes after, %d before", len(after), len(before))
	}
	for name, b := range before {
		a, ok := after[name]
		if !ok {
			t.Fatalf("mailbox %s not restored", name)
		}
		if offset == 0 && ((a.UIDValidity != b.UIDValidity && !ownUIDValidity[name]) || a.UIDNext != b.UIDNext) {
			t.Errorf("%s: UIDVALIDITY %d UIDNEXT %d, want %d %d", name, a.UIDValidity, a.UIDNext, b.UIDValidity, b.UIDNext)
		}
		if a.SpecialUse != b.SpecialUse {
			t.Errorf("%s: special use %q, want %q", name, a.SpecialUse, b.SpecialUse)
		}
		if len(b.Messages) > 0 && a.ModSeq <= b.ModSeq {
			t.Errorf("%s: HIGHESTMODSEQ %d, not above %d", name, a.ModSeq, b.ModSeq)
		}
		if len(a.Messages) != len(b.Messages) {
			t.Fatalf("%s: %d messages, want %d", name, len(a.Messages), len(b.Messages))
		}
		for i, bm := range b.Messages {
			am := a.Messages[i]
			if am.ModSeq <= b.ModSeq {
				t.Errorf("%s UID %d: MODSEQ %d, not above %d", name, am.UID, am.ModSeq, b.ModSeq)
			}
			bm.UID += offset
			am.ModSeq, bm.ModSeq = 0, 0
			if !reflect.DeepEqual(am, bm) {
				t.Errorf("%s: message\n%+v\nwant\n%+v", name, am, bm)
			}
		}
	}
}

// TestRestoreIntoAddedUser restores into a fresh data directory where
// "quire user add" made the user: its INBOX, which cannot be replaced,
// keeps its UIDVALIDITY but gets the archive's UIDs (its UIDNEXT was 1);
// the mailboxes the archive holds messages in are as they were.
func TestRestoreIntoAddedUser(t *testing.T) {
	ctx := context.Background()
	src := openStore(t, t.TempDir())
	before := snapshot(t, src, fill(t, src))
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := backup.Export(ctx, src, addr, dir); err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, t.TempDir())
	u, err := dst.CreateUser(ctx, addr, "{PLAIN}other")
	if err != nil {
		t.Fatal(err)
	}
	added := snapshot(t, dst, u)
	rep, err := backup.Restore(ctx, dst, addr, dir, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, dst, u)
	// Mailboxes empty in the archive, with UIDNEXT 1, have nothing to
	// restore: the added user's keep their UIDVALIDITY too.
	own := map[string]bool{"INBOX": true}
	for name, b := range before {
		if len(b.Messages) == 0 && b.UIDNext == 1 {
			own[name] = true
			if after[name].UIDValidity != added[name].UIDValidity {
				t.Errorf("%s: UIDVALIDITY %d -> %d, with nothing to restore", name, added[name].UIDValidity, after[name].UIDValidity)
			}
		}
	}
	compare(t, before, after, 0, own)
	if after["INBOX"].UIDValidity != added["INBOX"].UIDValidity {
		t.Fatalf("INBOX's UIDVALIDITY changed: %d -> %d", added["INBOX"].UIDValidity, after["INBOX"].UIDValidity)
	}
	for _, m := range rep.Mailboxes {
		if m.UIDOffset != 0 {
			t.Fatalf("%s restored with offset %d into a mailbox that never held a message", m.Name, m.UIDOffset)
		}
	}
	if got, _ := dst.User(ctx, addr); got.PasswordHash != "{PLAIN}other" {
		t.Fatalf("restore changed an existing user's password hash to %q", got.PasswordHash)
	}
}

// TestRestoreOverExisting restores an export into the user it came from,
// after the INBOX lost its messages and got a new one: the archive's
// messages land above every UID the INBOX gave, by the offset UIDNEXT - 1,
// under the same UIDVALIDITY, with MODSEQs above the mailbox's.
func TestRestoreOverExisting(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	u := fill(t, s)
	before := snapshot(t, s, u)
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := backup.Export(ctx, s, addr, dir); err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Expunge(ctx, inbox, []mail.UID{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	newer := put(t, s, "Subject: arrived after the loss\r\n\r\nx\r\n", time.Time{})
	if _, err := s.Append(ctx, u, inbox, newer); err != nil {
		t.Fatal(err)
	}
	mid := snapshot(t, s, u)["INBOX"]
	rep, err := backup.Restore(ctx, s, addr, dir, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rep.Mailboxes, func(m backup.MailboxReport) bool { return m.Name == "INBOX" })
	if i < 0 || rep.Mailboxes[i].UIDOffset != uint32(mid.UIDNext-1) || rep.Mailboxes[i].Messages != 4 {
		t.Fatalf("INBOX restore report %+v (UIDNEXT before %d)", rep.Mailboxes, mid.UIDNext)
	}
	got := snapshot(t, s, u)["INBOX"]
	if got.UIDValidity != before["INBOX"].UIDValidity || got.ModSeq <= mid.ModSeq {
		t.Fatalf("INBOX after: UIDVALIDITY %d (want %d), HIGHESTMODSEQ %d (want above %d)",
			got.UIDValidity, before["INBOX"].UIDValidity, got.ModSeq, mid.ModSeq)
	}
	if len(got.Messages) != 5 || got.Messages[0].UID != mid.Messages[0].UID {
		t.Fatalf("INBOX holds %d messages, first UID %d", len(got.Messages), got.Messages[0].UID)
	}
	compare(t, map[string]boxSnap{"INBOX": before["INBOX"]},
		map[string]boxSnap{"INBOX": {UIDValidity: got.UIDValidity, UIDNext: got.UIDNext, ModSeq: got.ModSeq, SpecialUse: got.SpecialUse, Messages: got.Messages[1:]}},
		mid.UIDNext-1, nil)
	// The other mailboxes still hold their messages: nothing was added.
	for _, m := range rep.Mailboxes {
		if m.Name != "INBOX" && m.Messages != 0 {
			t.Fatalf("%s: restored %d messages it still held", m.Name, m.Messages)
		}
	}
}

// TestExportFiles checks the archive's Dovecot files for one message.
func TestExportFiles(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	fill(t, s)
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := backup.Export(ctx, s, addr, dir); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uidlist, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(uidlist)), "\n")
	wantHead := fmt.Sprintf("3 V%d N7 G", inbox.UIDValidity)
	if len(lines) != 5 || !strings.HasPrefix(lines[0], wantHead) {
		t.Fatalf("dovecot-uidlist:\n%s\nwant a header %q and 4 messages", uidlist, wantHead)
	}
	kw, err := os.ReadFile(filepath.Join(dir, "dovecot-keywords"))
	if err != nil || string(kw) != "0 later\n1 $Forwarded\n2 work\n3 $Junk\n" {
		t.Fatalf("dovecot-keywords %q, %v", kw, err)
	}
	base := strings.TrimPrefix(lines[2], "2 :")
	files, _ := filepath.Glob(filepath.Join(dir, "cur", base+":2,*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], ":2,FRbc") {
		t.Fatalf("UID 2's file: %q (uidlist line %q)", files, lines[2])
	}
	subs, err := os.ReadFile(filepath.Join(dir, "subscriptions"))
	if err != nil || string(subs) != "Archive\nArchive.2024\nDrafts\nEntw&APw-rfe\nGone\nINBOX\nJunk\nSent\nTrash\n" {
		t.Fatalf("subscriptions %q, %v", subs, err)
	}
	for _, d := range []string{".Archive.2024", ".Entw&APw-rfe", ".v1&ICQ-2", ".Sent", ".Trash"} {
		if fi, err := os.Stat(filepath.Join(dir, d, "cur")); err != nil || !fi.IsDir() {
			t.Fatalf("folder %s: %v", d, err)
		}
	}
}

// TestRestoreUIDOffset restores into a fresh store with the
// disaster-recovery increment: every mailbox with messages keeps its
// UIDVALIDITY with UIDs and UIDNEXT raised by the offset and MODSEQs above
// the archive's by as much; a mailbox without messages, whose raised
// UIDNEXT nothing could carry, gets a fresh UIDVALIDITY.
func TestRestoreUIDOffset(t *testing.T) {
	ctx := context.Background()
	src := openStore(t, t.TempDir())
	before := snapshot(t, src, fill(t, src))
	dir := filepath.Join(t.TempDir(), "export")
	if _, err := backup.Export(ctx, src, addr, dir); err != nil {
		t.Fatal(err)
	}
	dst := openStore(t, t.TempDir())
	const off = 100000
	if _, err := backup.Restore(ctx, dst, addr, dir, backup.Options{UIDOffset: off}); err != nil {
		t.Fatal(err)
	}
	u, err := dst.User(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	after := snapshot(t, dst, u)
	for name, b := range before {
		a := after[name]
		if len(b.Messages) == 0 {
			if a.UIDValidity <= b.UIDValidity {
				t.Errorf("%s: empty, UIDVALIDITY %d not above the archive's %d", name, a.UIDValidity, b.UIDValidity)
			}
			continue
		}
		if a.UIDValidity != b.UIDValidity || a.UIDNext != b.UIDNext+off || a.ModSeq <= b.ModSeq+off {
			t.Errorf("%s: UIDVALIDITY %d UIDNEXT %d HIGHESTMODSEQ %d; want %d, %d, above %d",
				name, a.UIDValidity, a.UIDNext, a.ModSeq, b.UIDValidity, b.UIDNext+off, b.ModSeq+off)
		}
	}
	compare(t, before, after, off, nil)
}

// TestDeleteAndRestore exports a user, deletes it and restores it, on
// each backend (Cassandra too, when QUIRE_TEST_CASSANDRA names a node):
// the user comes back whole, as in TestRoundTrip.
func TestDeleteAndRestore(t *testing.T) {
	backendtest.Run(t, store.Options{}, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		address := backendtest.Address("bak")
		u := fillAs(t, s, address)
		before := snapshot(t, s, u)
		dir := filepath.Join(t.TempDir(), "export")
		if _, err := backup.Export(ctx, s, address, dir); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, err := backup.Restore(ctx, s, address, dir, backup.Options{}); err != nil {
			t.Fatal(err)
		}
		u2, err := s.User(ctx, address)
		if err != nil || u2.ID == u.ID {
			t.Fatalf("restored user %+v, %v: want a new user", u2, err)
		}
		compare(t, before, snapshot(t, s, u2), 0, nil)
		if err := s.DeleteUser(ctx, u2); err != nil {
			t.Fatal(err)
		}
	})
}
