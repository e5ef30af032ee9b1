package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/testkit"
)

// TestMbsyncStateSurvivesImport is the issue's "an mbsync state made
// against Dovecot keeps working against Quire without a re-download":
// isync's mbsync syncs a real Dovecot account (mail delivered over LMTP,
// a flag set, a nested folder copied into) into a local Maildir; the
// account is imported into Quire through the running server, from the
// Dovecot Maildir (quire import maildir) or over IMAP (quire import
// imap); mbsync's configuration is pointed at Quire with the same state
// files, and a second run fetches no message (only flags in its IMAP
// transcript, the local Maildir unchanged file for file), then a message
// delivered to Quire arrives, alone.
func TestMbsyncStateSurvivesImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	for _, kind := range []string{"maildir", "imap"} {
		t.Run(kind, func(t *testing.T) { mbsyncAfterImport(t, kind) })
	}
}

func mbsyncAfterImport(t *testing.T, kind string) {
	mbsync := needTool(t, "mbsync")
	d := testkit.StartDovecot(t, "")
	const who = testkit.DovecotUser
	tp := lmtpSession(t, "127.0.0.1:"+d.LMTPPort)
	for i := 1; i <= 3; i++ {
		body := fmt.Sprintf("From: bob@example.net\r\nTo: %s\r\nSubject: dovecot %d\r\nMessage-ID: <d%d@example.net>\r\n\r\nbody %d\r\n", who, i, i, i)
		if ok, err := deliver(tp, who, body); !ok || err != nil {
			t.Fatalf("delivery to Dovecot: %v %v", ok, err)
		}
	}
	dovecot := &imapServer{imap: "127.0.0.1:" + d.IMAPPort, user: who, pass: "pw"}
	dovecot.imapLines(t, "SELECT INBOX", `UID STORE 1 +FLAGS (\Seen)`, "CREATE Archive.2024", "SUBSCRIBE Archive.2024", "UID COPY 2 Archive.2024")

	dir := t.TempDir()
	rc := writeMbsyncAll(t, dir, "127.0.0.1", d.IMAPPort, who, "pw")
	runTool(t, "mbsync from Dovecot", exec.Command(mbsync, "-c", rc, "sync"))
	local := filepath.Join(dir, "mail")
	before := maildirTree(t, local)
	if n := len(before); n != 4 {
		t.Fatalf("mbsync from Dovecot left %d messages, want 4 (3 in INBOX, 1 in Archive/2024): %v", n, before)
	}

	s := startIMAPServer(t)
	args := []string{"import", "maildir", who, d.Maildir()}
	if kind == "imap" {
		pw := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(pw, []byte("pw\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = []string{"import", "imap", who, "--host", "127.0.0.1:" + d.IMAPPort, "--plain", "--user", who, "--password-file", pw}
	}
	out, err := exec.Command(s.bin, append(args, "--password-hash", "{PLAIN}pw", "--config", s.cfg)...).CombinedOutput()
	if err != nil {
		t.Fatalf("quire %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	d.Script("stop") // from here on only Quire answers
	host, port, _ := strings.Cut(s.imap, ":")
	writeMbsyncAll(t, dir, host, port, who, "pw")
	// -Dn prints the IMAP exchange. With its state valid, mbsync asks for
	// the flags of the messages it knows (UID FETCH 1:3 (UID FLAGS)) and
	// nothing else; a UIDVALIDITY it does not know would make it fetch
	// every message's Message-ID to match them up (and say it recovered),
	// UIDs it does not know their bodies (BODY.PEEK[]).
	fetches := regexp.MustCompile(`(?m)^>>> \d+ UID FETCH (\S+) \((.*)\)\s*$`)
	bodyFetch := regexp.MustCompile(`(?m)^>>> .*UID FETCH ([0-9:,*]+) \(.*BODY\.PEEK\[\]`)
	said := runTool(t, "mbsync from Quire", exec.Command(mbsync, "-Dn", "-c", rc, "sync"))
	all := fetches.FindAllStringSubmatch(said, -1)
	if len(all) != 2 {
		t.Errorf("mbsync against Quire: %d UID FETCH commands, want 2 (INBOX, Archive/2024):\n%s", len(all), said)
	}
	for _, f := range all {
		if f[2] != "UID FLAGS" {
			t.Errorf("mbsync against Quire fetched %q: more than flags, so its state did not hold", f[0])
		}
	}
	if m := regexp.MustCompile(`(?mi)^(notice|warning|error).*uidvalidity.*$`).FindAllString(said, -1); m != nil {
		t.Errorf("mbsync against Quire: %q", m)
	}
	if after := maildirTree(t, local); !reflect.DeepEqual(after, before) {
		t.Errorf("mbsync against Quire changed the local Maildir:\n%v\nbefore:\n%v", after, before)
	}
	if !strings.Contains(said, "SELECT") && !strings.Contains(said, "EXAMINE") {
		t.Fatalf("mbsync did not open a mailbox on Quire:\n%s", said)
	}

	tp = lmtpSession(t, s.lmtp)
	if ok, err := deliver(tp, who, "From: bob@example.net\r\nSubject: quire 4\r\n\r\nbody 4\r\n"); !ok || err != nil {
		t.Fatalf("delivery to Quire: %v %v", ok, err)
	}
	said = runTool(t, "mbsync after a delivery to Quire", exec.Command(mbsync, "-Dn", "-c", rc, "sync"))
	fetched := bodyFetch.FindAllStringSubmatch(said, -1)
	if len(fetched) != 1 || fetched[0][1] != "4" {
		t.Errorf("mbsync fetched %q after one delivery to Quire, want UID 4 alone", fetched)
	}
	after := maildirTree(t, local)
	var added []string
	for f, body := range after {
		if _, ok := before[f]; !ok {
			added = append(added, body)
		} else if before[f] != body {
			t.Errorf("%s changed", f)
		}
	}
	if len(added) != 1 || !strings.Contains(added[0], "Subject: quire 4") || len(after) != len(before)+1 {
		t.Errorf("after the delivery to Quire mbsync added %q (%d files, had %d), want the one message", added, len(after), len(before))
	}
}

// writeMbsyncAll writes an isync configuration that syncs every mailbox
// of user at host:port down to the Maildir dir/mail, and returns its path.
func writeMbsyncAll(t *testing.T, dir, host, port, user, pass string) string {
	t.Helper()
	return writeMbsyncConf(t, dir, host, port, user, pass, "Patterns *\nCreate Near\nExpunge None\n")
}

// maildirTree maps every message file under root (its path below root,
// flags included) to its contents.
func maildirTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		if sub := filepath.Base(filepath.Dir(p)); sub != "cur" && sub != "new" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
