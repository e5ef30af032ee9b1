package backup_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/testkit"
)

// dovecotBox is what Dovecot served of one mailbox.
type dovecotBox struct {
	UIDValidity uint32
	UIDNext     mail.UID
	Flags       map[mail.UID]mail.Flags
}

// TestImportDovecotMaildir is the test: mail delivered to a real
// Dovecot (Debian's, run by scripts/dovecot.sh on 127.0.0.1) over LMTP,
// with flags and keywords set, one message expunged (a gap in the UIDs),
// a folder created, subscribed and copied into over IMAP; its Maildir is
// then imported, and every mailbox has the UIDVALIDITY, UIDNEXT, UIDs,
// flags and keywords Dovecot served, and the subscription. A second
// import resumes: it adds nothing.
func TestImportDovecotMaildir(t *testing.T) {
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		if os.Getenv("QUIRE_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("Dovecot is not installed (%v): make test installs it with scripts/deps.sh", err)
		}
		t.Skipf("Dovecot not installed: %v", err)
	}
	if os.Getuid() != 0 {
		t.Skip("scripts/dovecot.sh runs Dovecot's mail processes as nobody: needs root")
	}
	top := dovecotTop(t)
	ports := testkit.CommonPorts(t, 3, "127.0.0.1")
	lmtpPort, imapPort, pop3Port := strconv.Itoa(ports[0]), strconv.Itoa(ports[1]), strconv.Itoa(ports[2])
	script := func(cmd string) {
		t.Helper()
		c := exec.Command("../../scripts/dovecot.sh", cmd)
		c.Env = append(os.Environ(), "DOVECOT_DIR="+top, "DOVECOT_USERS=1", "DOVECOT_PASSWORD=pw",
			"DOVECOT_LMTP_PORT="+lmtpPort, "DOVECOT_IMAP_PORT="+imapPort, "DOVECOT_POP3_PORT="+pop3Port)
		// Into a file, not a pipe: the Dovecot it starts keeps the
		// script's output open, and a pipe would never end.
		out, err := os.CreateTemp(top, "script-*.out")
		if err != nil {
			t.Fatal(err)
		}
		defer out.Close()
		c.Stdout, c.Stderr = out, out
		if err := c.Run(); err != nil {
			said, _ := os.ReadFile(out.Name())
			log, _ := os.ReadFile(filepath.Join(top, "dovecot.log"))
			t.Fatalf("scripts/dovecot.sh %s: %v\n%s\n%s", cmd, err, said, log)
		}
	}
	script("start")
	t.Cleanup(func() { script("stop") })
	const who = "user1@bench.test"

	lmtp, err := textproto.Dial("tcp", "127.0.0.1:"+lmtpPort)
	if err != nil {
		t.Fatal(err)
	}
	lmtpDo := func(code int, format string, args ...any) {
		t.Helper()
		id, err := lmtp.Cmd(format, args...)
		if err != nil {
			t.Fatal(err)
		}
		lmtp.StartResponse(id)
		defer lmtp.EndResponse(id)
		if _, msg, err := lmtp.ReadResponse(code); err != nil {
			t.Fatalf("LMTP %s: %v %s", fmt.Sprintf(format, args...), err, msg)
		}
	}
	if _, _, err := lmtp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	lmtpDo(250, "LHLO quire.test")
	for i := 1; i <= 4; i++ {
		lmtpDo(250, "MAIL FROM:<sender@example.test>")
		lmtpDo(250, "RCPT TO:<%s>", who)
		lmtpDo(354, "DATA")
		w := lmtp.DotWriter()
		fmt.Fprintf(w, "From: sender@example.test\r\nTo: %s\r\nSubject: message %d\r\nMessage-ID: <m%d@example.test>\r\n\r\nbody %d\r\n", who, i, i, i)
		w.Close()
		if _, msg, err := lmtp.ReadResponse(250); err != nil {
			t.Fatalf("LMTP DATA: %v %s", err, msg)
		}
	}
	lmtp.Close()

	conn, err := net.Dial("tcp", "127.0.0.1:"+imapPort)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := &imapClient{t: t, w: conn, r: bufio.NewReader(conn)}
	c.response() // greeting
	c.run(`LOGIN "` + who + `" "pw"`)
	c.run("SELECT INBOX")
	c.run(`UID STORE 1 +FLAGS (\Seen)`)
	c.run(`UID STORE 2 +FLAGS (\Flagged \Answered $Important work)`)
	c.run(`UID STORE 3 +FLAGS (\Deleted)`)
	c.run("EXPUNGE")
	c.run(`UID STORE 4 +FLAGS (work)`)
	c.run("CREATE Archive.2024")
	c.run("SUBSCRIBE Archive.2024")
	c.run("UID COPY 2 Archive.2024")
	served := map[string]dovecotBox{}
	for imapName, name := range map[string]string{"INBOX": "INBOX", "Archive.2024": "Archive/2024"} {
		b := dovecotBox{Flags: map[mail.UID]mail.Flags{}}
		b.UIDValidity, b.UIDNext = c.selectCodes("EXAMINE " + imapName)
		for _, r := range c.run("UID FETCH 1:* (UID FLAGS)") {
			if r.atom(2) != "FETCH" {
				continue
			}
			var uid mail.UID
			var flags mail.Flags
			l := r[3].l
			for i := 0; i+1 < len(l); i += 2 {
				switch strings.ToUpper(l[i].a) {
				case "UID":
					n, _ := strconv.ParseUint(l[i+1].a, 10, 32)
					uid = mail.UID(n)
				case "FLAGS":
					for _, f := range l[i+1].l {
						flags = append(flags, f.a)
					}
				}
			}
			b.Flags[uid] = mail.NewFlags(flags...).Minus(mail.Flags{`\Recent`})
		}
		served[name] = b
	}
	c.run("LOGOUT")
	if len(served["INBOX"].Flags) != 3 || served["INBOX"].UIDNext != 5 || len(served["Archive/2024"].Flags) != 1 {
		t.Fatalf("Dovecot served %+v: want 3 messages in INBOX (UIDNEXT 5), 1 in Archive.2024", served)
	}
	script("stop")

	ctx := context.Background()
	s := openStore(t, t.TempDir())
	maildirRoot := filepath.Join(top, "mail", who, "Maildir")
	last := map[string][2]int{}
	rep, err := backup.Import(ctx, s, who, maildirRoot, backup.ImportOptions{PasswordHash: "{PLAIN}pw",
		Progress: func(mailbox string, done, total int) { last[mailbox] = [2]int{done, total} }})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if last["INBOX"] != [2]int{3, 3} || last["Archive/2024"] != [2]int{1, 1} {
		t.Errorf("progress ended at %v, want INBOX 3/3 and Archive/2024 1/1", last)
	}
	if rep.Subscriptions != 1 {
		t.Errorf("import report %+v: want 1 subscription", rep)
	}
	u, err := s.User(ctx, who)
	if err != nil {
		t.Fatal(err)
	}
	compare := func() {
		t.Helper()
		for name, want := range served {
			mb, err := s.Mailbox(ctx, u, name)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			h, err := s.Status(ctx, mb)
			if err != nil {
				t.Fatal(err)
			}
			if mb.UIDValidity != want.UIDValidity || h.UIDNext != want.UIDNext {
				t.Errorf("%s: UIDVALIDITY %d UIDNEXT %d, Dovecot served %d %d", name, mb.UIDValidity, h.UIDNext, want.UIDValidity, want.UIDNext)
			}
			got := map[mail.UID]mail.Flags{}
			if err := s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error { got[r.UID] = r.Flags; return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want.Flags) {
				t.Errorf("%s: UIDs %v, Dovecot served %v", name, got, want.Flags)
			}
			for uid, fs := range want.Flags {
				if g, ok := got[uid]; !ok || !g.Equal(fs) {
					t.Errorf("%s UID %d: flags %q, Dovecot served %q", name, uid, g, fs)
				}
			}
		}
		subs, err := s.Subscriptions(ctx, u)
		if err != nil || len(subs) != 1 || subs[0] != "Archive/2024" {
			t.Errorf("subscriptions %q (%v), want Archive/2024", subs, err)
		}
	}
	compare()

	// Run again, as after an interruption: everything is there already.
	rep, err = backup.Import(ctx, s, who, maildirRoot, backup.ImportOptions{})
	if err != nil {
		t.Fatalf("second Import: %v", err)
	}
	for _, m := range rep.Mailboxes {
		if m.Messages != 0 || m.UIDOffset != 0 {
			t.Errorf("second import of %s: %+v, want nothing imported, no offset", m.Name, m)
		}
	}
	compare()
}

// dovecotTop is a directory for a private Dovecot's files, removed when
// the test ends: under the system's temporary directory, open to nobody,
// whom Dovecot runs mail access as when the test runs as root.
func dovecotTop(t *testing.T) string {
	t.Helper()
	top, err := os.MkdirTemp("", "quire-dovecot-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	return top
}
