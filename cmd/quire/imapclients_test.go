package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// imapServer starts quire serve on the embedded store with IMAP, POP3 and LMTP on
// free loopback ports, plaintext login allowed, and one user.
type imapServer struct {
	bin, cfg, lmtp, imap, pop3, user, pass string
}

func startIMAPServer(t *testing.T) *imapServer {
	t.Helper()
	dir := t.TempDir()
	s := &imapServer{bin: buildQuire(t), lmtp: freePort(t), imap: freePort(t), pop3: freePort(t), user: "erin@example.org", pass: "pw"}
	s.cfg = filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\n[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\n"+
		"[imap]\nlisten = [%q]\nallow_plaintext = true\nrecheck = \"1s\"\n[pop3]\nlisten = [%q]\nallow_plaintext = true\n",
		filepath.Join(dir, "data"), s.lmtp, freePort(t), s.imap, s.pop3)
	if err := os.WriteFile(s.cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, s.bin, s.cfg, s.lmtp)
	if out, err := exec.Command(s.bin, "user", "add", s.user, "--password", s.pass, "--config", s.cfg).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	return s
}

// deliver sends messages with the given subjects over LMTP.
func (s *imapServer) deliver(t *testing.T, subjects ...string) {
	t.Helper()
	tp := lmtpSession(t, s.lmtp)
	defer tp.Close()
	for _, subj := range subjects {
		body := "From: bob@example.net\r\nTo: " + s.user + "\r\nSubject: " + subj + "\r\nMessage-ID: <" + subj + "@example.net>\r\n\r\nbody of " + subj + "\r\n"
		if ok, err := deliver(tp, s.user, body); err != nil || !ok {
			t.Fatalf("deliver %q: %v %v", subj, ok, err)
		}
	}
}

// imapLines runs commands over a raw IMAP session and returns all lines.
func (s *imapServer) imapLines(t *testing.T, cmds ...string) []string {
	t.Helper()
	nc, err := net.Dial("tcp", s.imap)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(nc)
	var out []string
	read := func(tag string) {
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("imap read: %v", err)
			}
			out = append(out, strings.TrimRight(l, "\r\n"))
			if tag == "" || strings.HasPrefix(l, tag+" ") {
				if tag != "" && !strings.HasPrefix(l, tag+" OK") {
					t.Fatalf("imap: %s", l)
				}
				return
			}
		}
	}
	read("")
	cmds = append([]string{fmt.Sprintf("LOGIN %s %s", s.user, s.pass)}, cmds...)
	for i, c := range cmds {
		tag := fmt.Sprintf("c%d", i)
		fmt.Fprintf(nc, "%s %s\r\n", tag, c)
		read(tag)
	}
	return out
}

func runTool(t *testing.T, name string, cmd *exec.Cmd) string {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish in 90 s:\n%s", name, out)
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return string(out)
}

// TestIMAPPythonImaplib runs a whole session with Python's imaplib.
func TestIMAPPythonImaplib(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	python := needTool(t, "python3")
	s := startIMAPServer(t)
	s.deliver(t, "one", "two", "three")
	host, port, _ := strings.Cut(s.imap, ":")
	script := `import imaplib, sys
host, port, user, pw = sys.argv[1:5]
def ok(r):
    typ, data = r
    assert typ == 'OK', (typ, data)
    return data
m = imaplib.IMAP4(host, int(port))
assert 'IMAP4REV2' in m.capabilities, m.capabilities
ok(m.login(user, pw))
boxes = ok(m.list('""', '*'))
assert any(b'"INBOX"' in b or b' INBOX' in b for b in boxes), boxes
assert ok(m.select('INBOX'))[0] == b'3'
data = ok(m.fetch('1:3', '(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])'))
subjects = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
assert subjects == ['Subject: one', 'Subject: two', 'Subject: three'], subjects
ok(m.store('1', '+FLAGS', '\\Seen'))
ok(m.append('Archive', '(\\Flagged)', None, b'From: me@example.org\r\nSubject: appended\r\n\r\nhi\r\n'))
ok(m.copy('2', 'Archive'))
ok(m.store('3', '+FLAGS', '\\Deleted'))
assert ok(m.expunge()) == [b'3'], 'expunge'
ok(m.create('Projects/2026'))
ok(m.rename('Projects', 'Work'))
ok(m.subscribe('Work/2026'))
assert any(b'Work/2026' in b for b in ok(m.lsub('""', '*')))
st = ok(m.status('Archive', '(MESSAGES UNSEEN)'))[0].decode()
assert 'MESSAGES 2' in st and 'UNSEEN 2' in st, st
data = ok(m.uid('FETCH', '1:*', '(FLAGS)'))
assert len(data) == 2 and b'\\Seen' in data[0], data
ok(m.close())
assert m.logout()[0] == 'BYE'
print('imaplib ok')
`
	if out := runTool(t, "python3 imaplib", exec.Command(python, "-c", script, host, port, s.user, s.pass)); !strings.Contains(out, "imaplib ok") {
		t.Fatalf("imaplib: %s", out)
	}
	has := strings.Join(s.imapLines(t, "STATUS INBOX (MESSAGES)", "STATUS Archive (MESSAGES)", "LIST \"\" Work*"), "\n")
	for _, want := range []string{"INBOX (MESSAGES 2)", "Archive (MESSAGES 2)", "Work/2026"} {
		if !strings.Contains(has, want) {
			t.Fatalf("final state lacks %q:\n%s", want, has)
		}
	}
}

// TestIMAPMbsync syncs INBOX down to a Maildir with isync, changes flags
// and adds and deletes a message locally, and syncs back up.
func TestIMAPMbsync(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	mbsync := needTool(t, "mbsync")
	s := startIMAPServer(t)
	s.deliver(t, "one", "two", "three")
	dir := t.TempDir()
	host, port, _ := strings.Cut(s.imap, ":")
	rc := writeMbsyncrc(t, dir, host, port, s.user, s.pass)
	runTool(t, "mbsync (down)", exec.Command(mbsync, "-c", rc, "sync"))
	files := maildirFiles(t, filepath.Join(dir, "mail", "INBOX"))
	if len(files) != 3 {
		t.Fatalf("Maildir has %d messages after the first sync, want 3: %v", len(files), files)
	}
	// Locally: mark "one" seen, trash "two", add a new message.
	for _, f := range files {
		b, _ := os.ReadFile(f)
		switch {
		case strings.Contains(string(b), "Subject: one"):
			mustRename(t, f, maildirFlags(f, "S"))
		case strings.Contains(string(b), "Subject: two"):
			mustRename(t, f, maildirFlags(f, "T"))
		}
	}
	newMsg := filepath.Join(dir, "mail", "INBOX", "new", "1700000000.local.test")
	if err := os.WriteFile(newMsg, []byte("From: erin@example.org\nSubject: written locally\n\nhello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runTool(t, "mbsync (up)", exec.Command(mbsync, "-c", rc, "sync"))
	out := strings.Join(s.imapLines(t, "SELECT INBOX", "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "\n")
	for _, want := range []string{"* 3 EXISTS", "Subject: one", "Subject: three", "Subject: written locally"} {
		if !strings.Contains(out, want) {
			t.Fatalf("server lacks %q after syncing up:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Subject: two") {
		t.Fatalf("trashed message still on the server:\n%s", out)
	}
	if !strings.Contains(out, `FLAGS (\Seen`) {
		t.Fatalf("\\Seen set locally did not reach the server:\n%s", out)
	}
}

// writeMbsyncrc writes an isync configuration that syncs the INBOX of
// user at host:port (plaintext LOGIN) with the Maildir dir/mail, and
// returns its path.
func writeMbsyncrc(t *testing.T, dir, host, port, user, pass string) string {
	t.Helper()
	return writeMbsyncConf(t, dir, host, port, user, pass, "Patterns INBOX\nCreate Both\nExpunge Both\n")
}

// writeMbsyncConf writes an isync configuration for user at host:port
// (plaintext LOGIN) and the Maildir dir/mail, its state kept beside the
// messages (SyncState *), whose channel syncs what channel says
// (Patterns, Create, Expunge), and returns its path.
func writeMbsyncConf(t *testing.T, dir, host, port, user, pass, channel string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "mail"), 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "mbsyncrc")
	conf := fmt.Sprintf(`IMAPAccount q
Host %s
Port %s
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account q

MaildirStore local
Path %s/mail/
Inbox %s/mail/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
%sSyncState *
Sync All
`, host, port, user, pass, dir, dir, channel)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

func maildirFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new"} {
		es, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			out = append(out, filepath.Join(dir, sub, e.Name()))
		}
	}
	return out
}

// maildirFlags returns f moved to cur/ with flags added to its info.
func maildirFlags(f, flags string) string {
	dir := filepath.Join(filepath.Dir(filepath.Dir(f)), "cur")
	base := filepath.Base(f)
	name, info, found := strings.Cut(base, ":2,")
	if !found {
		return filepath.Join(dir, base+":2,"+flags)
	}
	return filepath.Join(dir, name+":2,"+info+flags)
}

func mustRename(t *testing.T, a, b string) {
	t.Helper()
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
}

// TestIMAPImapflow runs the npm client imapflow: CONDSTORE/QRESYNC, MOVE
// and IDLE (test/clients/imapflow.mjs).
func TestIMAPImapflow(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	node := needTool(t, "node")
	script, _ := filepath.Abs("../../test/clients/imapflow.mjs")
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "imapflow")); err != nil {
		if os.Getenv("QUIRE_REQUIRE_CLIENTS") == "1" {
			t.Fatal("imapflow is not installed: make test installs it with scripts/deps.sh")
		}
		t.Skip("imapflow not installed (scripts/deps.sh)")
	}
	s := startIMAPServer(t)
	s.deliver(t, "one", "two", "three")
	host, port, _ := strings.Cut(s.imap, ":")
	cmd := exec.Command(node, script, host, port, s.user, s.pass)
	cmd.Stderr = os.Stderr
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	var got []string
	deadline := time.After(90 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				if err := <-done; err != nil || !slices.Contains(got, "imapflow ok") {
					t.Fatalf("imapflow: %v\n%s", err, strings.Join(got, "\n"))
				}
				return
			}
			got = append(got, l)
			if l == "IDLING" {
				time.Sleep(300 * time.Millisecond) // let IDLE reach the server
				s.deliver(t, "four")
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("imapflow did not finish in 90 s:\n%s", strings.Join(got, "\n"))
		}
	}
}

// TestPOP3Fetchmail downloads and deletes mail with fetchmail.
func TestPOP3Fetchmail(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	fetchmail := needTool(t, "fetchmail")
	s := startIMAPServer(t)
	s.deliver(t, "one", "two", "three")
	dir := t.TempDir()
	out := filepath.Join(dir, "out.mbox")
	host, port, _ := strings.Cut(s.pop3, ":")
	rc := filepath.Join(dir, "fetchmailrc")
	conf := fmt.Sprintf("poll %s port %s proto POP3 auth password uidl\n  user %q password %q is root here\n  nokeep\n  mda \"/bin/sh -c 'cat >> %s'\"\n",
		host, port, s.user, s.pass, out)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fetchmail, "-f", rc, "--nodetach", "--nosyslog", "-i", filepath.Join(dir, "ids"), "--sslproto", "")
	cmd.Env = append(os.Environ(), "HOME="+dir, "FETCHMAILHOME="+dir)
	log := runTool(t, "fetchmail", cmd)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("fetchmail delivered nothing: %v\n%s", err, log)
	}
	for _, subj := range []string{"Subject: one", "Subject: two", "Subject: three"} {
		if !strings.Contains(string(got), subj) {
			t.Fatalf("fetchmail output lacks %q:\n%s\n%s", subj, got, log)
		}
	}
	st := strings.Join(s.imapLines(t, "STATUS INBOX (MESSAGES)"), "\n")
	if !strings.Contains(st, "INBOX (MESSAGES 0)") {
		t.Fatalf("fetchmail did not delete the messages:\n%s\n%s", st, log)
	}
}
