package main

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportRestoreEmbedded runs quire export and quire restore while a
// server holds the embedded store: they go through its admin API, and the
// server reads and writes the archive.
func TestExportRestoreEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	cfg, lmtpAddr, _ := writeConfig(t, t.TempDir())
	bin := buildQuire(t)
	startServer(t, bin, cfg, lmtpAddr)
	exportRestore(t, cfg, lmtpAddr, "erin@example.org")
}

// TestExportRestoreCassandra runs them on the cluster directly, beside a
// running server.
func TestExportRestoreCassandra(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	cfg, lmtpAddr := casConfig(t, addr)
	bin := buildQuire(t)
	startServer(t, bin, cfg, lmtpAddr)
	var r [6]byte
	_, _ = rand.Read(r[:])
	exportRestore(t, cfg, lmtpAddr, "bak"+hex.EncodeToString(r[:])+"@example.org")
}

// exportRestore delivers two messages, exports the user, deletes it,
// restores it (recreated with INBOX's UIDVALIDITY, UIDNEXT and UIDs), and
// restores again (nothing added).
func exportRestore(t *testing.T, cfg, lmtpAddr, user string) {
	t.Helper()
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, err := quire(t, stdin, append(args, "--config", cfg)...)
		if err != nil {
			t.Fatalf("quire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustRun("pw\n", "user", "add", user, "--password-stdin")
	tp := lmtpSession(t, lmtpAddr)
	for _, body := range []string{"Subject: one\r\n\r\nfirst\r\n", "Subject: two\r\n\r\nsecond\r\n"} {
		if ok, err := deliver(tp, user, body); !ok || err != nil {
			t.Fatalf("delivery: %v %v", ok, err)
		}
	}
	inboxOf := func(user string) []string {
		t.Helper()
		for _, l := range strings.Split(mustRun("", "mailbox", "list", user), "\n") {
			if f := strings.Fields(l); len(f) == 7 && f[0] == "INBOX" {
				return f[:6] // all but HIGHESTMODSEQ, which a restore raises
			}
		}
		t.Fatal("mailbox list has no INBOX line")
		return nil
	}
	inbox := func() []string { t.Helper(); return inboxOf(user) }
	before := inbox()
	if before[1] != "2" || before[5] != "3" {
		t.Fatalf("INBOX before export: %q, want 2 messages, UIDNEXT 3", before)
	}
	dir := filepath.Join(t.TempDir(), "export")
	mustRun("", "export", user, dir)
	uidlist, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(uidlist)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "3 V"+before[4]+" N3 ") ||
		!strings.HasPrefix(lines[1], "1 :") || !strings.HasPrefix(lines[2], "2 :") {
		t.Fatalf("dovecot-uidlist:\n%s", uidlist)
	}
	mustRun("", "user", "del", user)
	out := mustRun("", "restore", user, dir)
	if !strings.Contains(out, "restored "+user) {
		t.Fatalf("restore said:\n%s", out)
	}
	if after := inbox(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("INBOX after restore %q, want %q", after, before)
	}
	// Over the user it restored: every body is there, nothing is added.
	out = mustRun("", "restore", user, dir)
	found := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		found = found || strings.Join(f, " ") == "INBOX 0 2 "+before[4]+" 2"
	}
	if !found {
		t.Fatalf("second restore: want INBOX with 0 restored, 2 skipped, offset 2 (UIDNEXT - 1):\n%s", out)
	}
	if after := inbox(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("INBOX after a second restore %q, want %q", after, before)
	}
	mustRun("", "user", "del", user)

	// The export is a Dovecot Maildir: quire import maildir creates a new
	// user from it with INBOX's UIDVALIDITY, UIDNEXT and UIDs, and a
	// second run resumes (nothing imported, nothing offset).
	imported := "imp-" + user
	out = mustRun("", "import", "maildir", imported, dir, "--password-hash", "{PLAIN}pw")
	if !strings.Contains(out, "imported "+dir+" into "+imported) {
		t.Fatalf("import said:\n%s", out)
	}
	if got := inboxOf(imported); strings.Join(got[1:], " ") != strings.Join(before[1:], " ") {
		t.Fatalf("imported INBOX %q, want %q", got, before)
	}
	// quire check finds the imported user whole (both backends: on
	// Cassandra the command reads the cluster itself).
	if out := mustRun("", "check", imported, "--bodies"); !strings.Contains(out, "0 finding(s)") {
		t.Fatalf("check of the imported user:\n%s", out)
	}
	out = mustRun("", "import", "maildir", imported, dir)
	found = false
	for _, l := range strings.Split(out, "\n") {
		found = found || strings.Join(strings.Fields(l), " ") == "INBOX 0 2 "+before[4]+" 0"
	}
	if !found {
		t.Fatalf("second import: want INBOX with 0 imported, 2 skipped, offset 0:\n%s", out)
	}
	mustRun("", "user", "del", imported)

	// An mbox through the same path (on the embedded store the server
	// reads it): Status and X-Keywords become flags, the mbox's headers
	// are not stored, and a second run adds nothing.
	mboxFile := filepath.Join(t.TempDir(), "saved")
	err = os.WriteFile(mboxFile, []byte("From a@example.test Sat Jan  3 01:05:34 2004\nStatus: RO\nX-Keywords: work\nSubject: old one\n\n>From the body\n\n"+
		"From b@example.test Sun Jan  4 01:05:34 2004\nSubject: old two\n\nsecond\n"), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	mustRun("", "import", "mbox", imported, mboxFile, "--mailbox", "Old/Mail", "--password-hash", "{PLAIN}pw")
	var oldMail []string
	for _, l := range strings.Split(mustRun("", "mailbox", "list", imported), "\n") {
		if f := strings.Fields(l); len(f) == 7 && f[0] == "Old/Mail" {
			oldMail = f
		}
	}
	// NAME MESSAGES UNSEEN SIZE UIDVALIDITY UIDNEXT HIGHESTMODSEQ
	if oldMail == nil || oldMail[1] != "2" || oldMail[2] != "1" || oldMail[5] != "3" {
		t.Fatalf("Old/Mail after the mbox import: %q, want 2 messages, 1 unseen, UIDNEXT 3", oldMail)
	}
	if out := mustRun("", "check", imported, "--bodies"); !strings.Contains(out, "0 finding(s)") {
		t.Fatalf("check of the user after the mbox import:\n%s", out)
	}
	out = mustRun("", "import", "mbox", imported, mboxFile, "--mailbox", "Old/Mail")
	found = false
	for _, l := range strings.Split(out, "\n") {
		found = found || strings.Join(strings.Fields(l), " ") == "Old/Mail 0 2 "+oldMail[4]+" 2"
	}
	if !found {
		t.Fatalf("second mbox import: want Old/Mail with 0 imported, 2 skipped:\n%s", out)
	}
	mustRun("", "user", "del", imported)
	if out, err := quire(t, "", "import", "imap", imported, "--config", cfg); err == nil || !strings.Contains(err.Error()+out, "--host, --user and --password-file are required") {
		t.Fatalf("import imap without a server: %v\n%s", err, out)
	}
}
