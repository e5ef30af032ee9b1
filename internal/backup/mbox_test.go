package backup_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/testkit"
)

// mboxInbox is an mbox as Dovecot writes one (X-IMAPbase, X-UID,
// Status, X-Status, X-Keywords, Content-Length), with a second message
// as mutt writes it, its body quoted mboxrd-style.
const mboxInbox = "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n" +
	"X-IMAPbase: 1310126914 0000000003 work\nReturn-Path: <a@example.test>\nSubject: first\nStatus: RO\nX-Status: AF\nX-Keywords: work\nX-UID: 1\nContent-Length: 6\n\nhello\n\n" +
	"From b@example.test Sat Jan  3 01:05:34 2004\nSubject: second\nStatus: O\nX-Status: T\n\n>From the top\n>>From the quote\n\n" +
	"From c@example.test Sun Jan  4 02:00:00 2004\nSubject: third\nX-Status: D\n\nbye\n\n"

// mboxWant is what Quire stores of mboxInbox: the mbox's headers gone,
// the quoting taken off, flags and From_ dates kept.
var mboxWant = []msgSnap{
	{UID: 1, Flags: mail.NewFlags(`\Seen`, `\Answered`, `\Flagged`, "work"), InternalDate: time.Date(2011, 7, 8, 12, 8, 34, 0, time.UTC),
		Body: "Return-Path: <a@example.test>\nSubject: first\n\nhello\n"},
	{UID: 2, Flags: mail.NewFlags(`\Draft`), InternalDate: time.Date(2004, 1, 3, 1, 5, 34, 0, time.UTC),
		Body: "Subject: second\n\nFrom the top\n>From the quote\n"},
	{UID: 3, Flags: mail.NewFlags(`\Deleted`), InternalDate: time.Date(2004, 1, 4, 2, 0, 0, 0, time.UTC),
		Body: "Subject: third\n\nbye\n"},
}

// messagesOf returns a mailbox's messages with what an mbox carries:
// UID, flags, INTERNALDATE, body.
func messagesOf(b boxSnap) []msgSnap {
	var out []msgSnap
	for _, m := range b.Messages {
		out = append(out, msgSnap{UID: m.UID, Flags: m.Flags, InternalDate: m.InternalDate.UTC(), Body: m.Body})
	}
	return out
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImportMboxTree imports a tree of mbox files into a new user: each
// file a mailbox (a Thunderbird .sbd directory holding a mailbox's
// children, a modified UTF-7 file name decoded), the files that are not
// mail left out, every message with its flags and From_ date and without
// the mbox's headers; the pseudo message is not imported; the
// subscriptions are Dovecot's .subscriptions. A second run adds nothing.
func TestImportMboxTree(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	one := func(subject string) string {
		return "From x@example.test Mon Feb  2 03:04:05 2009\nSubject: " + subject + "\n\n" + subject + "\n\n"
	}
	writeFiles(t, root, map[string]string{
		"INBOX": mboxInbox,
		"Lists": "From MAILER_DAEMON Wed Jan  1 00:00:00 2020\nX-IMAP: 1 2\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\npseudo\n\n" +
			one("lists"),
		"Lists.sbd/go":      one("go"),
		"&AOQ-pfel":         one("apples"),
		"Lists.msf":         "// Thunderbird's index",
		".subscriptions":    "V\t2\n\nLists\tgo\n&AOQ-pfel\n",
		"dovecot.index.log": "\x00\x01",
		".imap/INBOX/x":     "Dovecot's index",
	})
	s := openStore(t, t.TempDir())
	last := map[string][2]int{}
	rep, err := backup.Import(ctx, s, addr, root, backup.ImportOptions{Source: "mbox", PasswordHash: "{PLAIN}pw",
		Progress: func(mailbox string, done, total int) { last[mailbox] = [2]int{done, total} }})
	if err != nil {
		t.Fatal(err)
	}
	if last["INBOX"] != [2]int{3, 3} || len(rep.Mailboxes) != 4 || rep.Subscriptions != 2 {
		t.Errorf("progress %v, report %+v: want INBOX 3/3, 4 mailboxes, 2 subscriptions", last, rep)
	}
	u, err := s.User(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	// Dovecot's .subscriptions, and only those: the user is new.
	if subs, err := s.Subscriptions(ctx, u); err != nil || !reflect.DeepEqual(sorted(subs), []string{"Lists/go", "äpfel"}) {
		t.Errorf("subscriptions %q (%v), want Lists/go and äpfel", subs, err)
	}
	snap := snapshot(t, s, u)
	if got := messagesOf(snap["INBOX"]); !reflect.DeepEqual(got, mboxWant) {
		t.Errorf("INBOX holds\n%#v\nwant\n%#v", got, mboxWant)
	}
	feb := time.Date(2009, 2, 2, 3, 4, 5, 0, time.UTC)
	for name, subject := range map[string]string{"Lists": "lists", "Lists/go": "go", "äpfel": "apples"} {
		want := []msgSnap{{UID: 1, Flags: mail.NewFlags(), InternalDate: feb, Body: "Subject: " + subject + "\n\n" + subject + "\n"}}
		if got := messagesOf(snap[name]); !reflect.DeepEqual(got, want) {
			t.Errorf("%s holds\n%#v\nwant\n%#v", name, got, want)
		}
		if snap[name].UIDNext != 2 {
			t.Errorf("%s: UIDNEXT %d, want 2", name, snap[name].UIDNext)
		}
	}
	rep, err = backup.Import(ctx, s, addr, root, backup.ImportOptions{Source: "mbox"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Mailboxes {
		if m.Messages != 0 {
			t.Errorf("second import of %s: %+v, want nothing imported", m.Name, m)
		}
	}
	if again := snapshot(t, s, u); !reflect.DeepEqual(again, snap) {
		t.Errorf("the second import changed the mailboxes")
	}

	// A file that is not an mbox is an error that names it.
	writeFiles(t, root, map[string]string{"notes.txt": "shopping list\n"})
	if _, err := backup.Import(ctx, s, addr, root, backup.ImportOptions{Source: "mbox"}); err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Errorf("import of a tree with notes.txt: %v, want an error naming it", err)
	}
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestImportMboxResume imports an mbox cut short, as an interrupted
// import leaves the mailbox, then the whole file: the messages the first
// run imported are skipped (as many copies of a body as the mailbox
// holds: the file has one twice), the rest get the next UIDs.
func TestImportMboxResume(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	msg := func(subject string) string {
		return "From x@example.test Mon Feb  2 03:04:05 2009\nSubject: " + subject + "\n\n" + subject + "\n"
	}
	file := filepath.Join(dir, "saved")
	writeFiles(t, dir, map[string]string{"saved": msg("a") + "\n"})
	s := openStore(t, t.TempDir())
	opt := backup.ImportOptions{Source: "mbox", Mailbox: "Saved", PasswordHash: "{PLAIN}pw"}
	if _, err := backup.Import(ctx, s, addr, file, opt); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"saved": msg("a") + "\n" + msg("a") + "\n" + msg("b")})
	rep, err := backup.Import(ctx, s, addr, file, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mailboxes) != 1 || rep.Mailboxes[0].Messages != 2 || rep.Mailboxes[0].Skipped != 1 {
		t.Errorf("resumed import: %+v, want 2 imported, 1 skipped", rep.Mailboxes)
	}
	u, err := s.User(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	b := snapshot(t, s, u)["Saved"]
	var got []string
	for _, m := range b.Messages {
		got = append(got, strings.TrimSpace(m.Body[strings.LastIndexByte(strings.TrimSpace(m.Body), '\n'):]))
	}
	if b.UIDNext != 4 || len(b.Messages) != 3 || b.Messages[2].UID != 3 || !reflect.DeepEqual(got, []string{"a", "a", "b"}) {
		t.Errorf("Saved after the resumed import: UIDNEXT %d, bodies %q, want UIDs 1..3 holding a, a, b", b.UIDNext, got)
	}
}

// TestDovecotReadsMbox has a real Dovecot serve the mbox Quire imports
// (a copy: Dovecot rewrites the mbox's headers), and compares message by
// message: Quire stores exactly what Dovecot serves (the same headers
// hidden; CRLF aside, which IMAP adds), with the flags, keywords and
// INTERNALDATEs Dovecot reads from it. Dovecot takes no quoting off
// ">From" lines (it relies on Content-Length), so the import reads the
// file with --quoting none. UIDs are not compared: Dovecot numbers
// messages without an X-UID from its index, and an import of an mbox
// gives UIDs in file order.
func TestDovecotReadsMbox(t *testing.T) {
	if _, err := os.Stat(dovecotIMAP); err != nil {
		if os.Getenv("QUIRE_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("Dovecot is not installed (%v): make test installs dovecot-imapd with scripts/deps.sh", err)
		}
		t.Skipf("Dovecot not installed: %v", err)
	}
	ctx := context.Background()
	top := testkit.DovecotTop(t)
	dir := filepath.Join(top, "mail")
	writeFiles(t, dir, map[string]string{"inbox": mboxInbox})
	s := openStore(t, t.TempDir())
	if _, err := backup.Import(ctx, s, addr, filepath.Join(dir, "inbox"), backup.ImportOptions{Source: "mbox", MboxQuoting: "none", PasswordHash: "{PLAIN}pw"}); err != nil {
		t.Fatal(err)
	}
	u, err := s.User(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	var want []msgSnap
	for _, m := range messagesOf(snapshot(t, s, u)["INBOX"]) {
		m.Body = strings.ReplaceAll(m.Body, "\n", "\r\n")
		m.ModSeq = mail.ModSeq(len(m.Body))
		m.UID = 0
		want = append(want, m)
	}

	c := dovecotPreauth(t, top, "mbox:"+dir+":INBOX="+filepath.Join(dir, "inbox"), dir)
	c.run("EXAMINE INBOX")
	var got []msgSnap
	for _, r := range c.run("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])") {
		if r.atom(2) == "FETCH" {
			m := r.fetch(t)
			m.UID = 0
			got = append(got, m)
		}
	}
	c.run("LOGOUT")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Dovecot serves\n%#v\nQuire imported\n%#v", got, want)
	}
}

// TestImportMboxInterrupted stops an import of 100 messages after its
// first batch (64) is committed, as a stopped command does, and runs it
// again: the second run imports the other 36 with UIDs 65..100.
func TestImportMboxInterrupted(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "From x@example.test Mon Feb  2 03:04:05 2009\nSubject: %d\n\nbody %d\n\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "big")
	writeFiles(t, filepath.Dir(file), map[string]string{"big": b.String()})
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opt := backup.ImportOptions{Source: "mbox", PasswordHash: "{PLAIN}pw", Progress: func(string, int, int) { cancel() }}
	if _, err := backup.Import(ctx, s, addr, file, opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v, want context.Canceled", err)
	}
	u, err := s.User(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(snapshot(t, s, u)["INBOX"].Messages); n != 64 {
		t.Fatalf("after the interruption INBOX holds %d messages, want the first batch, 64", n)
	}
	rep, err := backup.Import(context.Background(), s, addr, file, backup.ImportOptions{Source: "mbox"})
	if err != nil {
		t.Fatal(err)
	}
	if m := rep.Mailboxes[0]; m.Messages != 36 || m.Skipped != 64 {
		t.Errorf("resumed import: %+v, want 36 imported, 64 skipped", m)
	}
	inbox := snapshot(t, s, u)["INBOX"]
	for i, m := range inbox.Messages {
		if want := fmt.Sprintf("Subject: %d\n\nbody %d\n", i+1, i+1); m.UID != mail.UID(i+1) || m.Body != want {
			t.Fatalf("message %d: UID %d body %q, want UID %d %q", i, m.UID, m.Body, i+1, want)
		}
	}
	if len(inbox.Messages) != 100 || inbox.UIDNext != 101 {
		t.Errorf("INBOX: %d messages, UIDNEXT %d, want 100 and 101", len(inbox.Messages), inbox.UIDNext)
	}
}
