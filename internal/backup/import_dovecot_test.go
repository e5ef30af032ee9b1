package backup_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
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
	Messages    map[mail.UID]msgSnap // ModSeq holds RFC822.SIZE
}

// dovecotAccount is a private Dovecot with one user, dovecotUser,
// password "pw".
type dovecotAccount struct {
	*testkit.Dovecot
	t *testing.T
}

const dovecotUser = testkit.DovecotUser

func startDovecot(t *testing.T, extra string) *dovecotAccount {
	t.Helper()
	return &dovecotAccount{Dovecot: testkit.StartDovecot(t, extra), t: t}
}

// deliver sends messages numbered from..to over LMTP.
func (d *dovecotAccount) deliver(from, to int) {
	t := d.t
	t.Helper()
	lmtp, err := textproto.Dial("tcp", "127.0.0.1:"+d.LMTPPort)
	if err != nil {
		t.Fatal(err)
	}
	defer lmtp.Close()
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
	for i := from; i <= to; i++ {
		lmtpDo(250, "MAIL FROM:<sender@example.test>")
		lmtpDo(250, "RCPT TO:<%s>", dovecotUser)
		lmtpDo(354, "DATA")
		w := lmtp.DotWriter()
		fmt.Fprintf(w, "From: sender@example.test\r\nTo: %s\r\nSubject: message %d\r\nMessage-ID: <m%d@example.test>\r\n\r\nbody %d\r\n", dovecotUser, i, i, i)
		w.Close()
		if _, msg, err := lmtp.ReadResponse(250); err != nil {
			t.Fatalf("LMTP DATA: %v %s", err, msg)
		}
	}
}

// imap logs in over IMAP.
func (d *dovecotAccount) imap() *imapClient {
	t := d.t
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+d.IMAPPort)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &imapClient{t: t, w: conn, r: bufio.NewReader(conn)}
	c.response() // greeting
	c.run(`LOGIN "` + dovecotUser + `" "pw"`)
	return c
}

// fill delivers four messages, sets flags and keywords, expunges one (a
// gap in the UIDs), and creates, subscribes and copies into a folder.
func (d *dovecotAccount) fill() {
	d.t.Helper()
	d.deliver(1, 4)
	c := d.imap()
	c.run("SELECT INBOX")
	c.run(`UID STORE 1 +FLAGS (\Seen)`)
	c.run(`UID STORE 2 +FLAGS (\Flagged \Answered $Important work)`)
	c.run(`UID STORE 3 +FLAGS (\Deleted)`)
	c.run("EXPUNGE")
	c.run(`UID STORE 4 +FLAGS (work)`)
	c.run("CREATE Archive.2024")
	c.run("SUBSCRIBE Archive.2024")
	c.run("UID COPY 2 Archive.2024")
	c.run("LOGOUT")
}

// served is what Dovecot serves of INBOX and Archive.2024 (Quire's
// Archive/2024): UIDVALIDITY, UIDNEXT, and each message's UID, flags,
// INTERNALDATE, size and body.
func (d *dovecotAccount) served() map[string]dovecotBox {
	d.t.Helper()
	c := d.imap()
	served := map[string]dovecotBox{}
	for imapName, name := range map[string]string{"INBOX": "INBOX", "Archive.2024": "Archive/2024"} {
		b := dovecotBox{Messages: map[mail.UID]msgSnap{}}
		b.UIDValidity, b.UIDNext = c.selectCodes("EXAMINE " + imapName)
		for _, r := range c.run("UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])") {
			if r.atom(2) == "FETCH" {
				m := r.fetch(d.t)
				b.Messages[m.UID] = m
			}
		}
		served[name] = b
	}
	c.run("LOGOUT")
	return served
}

// compareServed checks that the user's mailboxes in s hold what Dovecot
// served: UIDVALIDITY, UIDNEXT, UIDs, flags and keywords, and with exact
// also INTERNALDATEs and bodies byte for byte (a Maildir holds bodies
// with LF line ends, which Dovecot serves with CRLF); and the one
// subscription, Archive/2024.
func compareServed(t *testing.T, s *store.Store, u store.User, served map[string]dovecotBox, exact bool) {
	t.Helper()
	ctx := context.Background()
	got := snapshot(t, s, u)
	for name, want := range served {
		b := got[name]
		if b.UIDValidity != want.UIDValidity || b.UIDNext != want.UIDNext {
			t.Errorf("%s: UIDVALIDITY %d UIDNEXT %d, Dovecot served %d %d", name, b.UIDValidity, b.UIDNext, want.UIDValidity, want.UIDNext)
		}
		if len(b.Messages) != len(want.Messages) {
			t.Errorf("%s: %d messages, Dovecot served %d", name, len(b.Messages), len(want.Messages))
		}
		for _, m := range b.Messages {
			w, ok := want.Messages[m.UID]
			if !ok {
				t.Errorf("%s: UID %d, which Dovecot did not serve", name, m.UID)
				continue
			}
			if !m.Flags.Equal(w.Flags) {
				t.Errorf("%s UID %d: flags %q, Dovecot served %q", name, m.UID, m.Flags, w.Flags)
			}
			if exact && (m.Body != w.Body || !m.InternalDate.Equal(w.InternalDate)) {
				t.Errorf("%s UID %d: INTERNALDATE %v body\n%q\nDovecot served %v\n%q", name, m.UID, m.InternalDate, m.Body, w.InternalDate, w.Body)
			}
		}
	}
	subs, err := s.Subscriptions(ctx, u)
	if err != nil || len(subs) != 1 || subs[0] != "Archive/2024" {
		t.Errorf("subscriptions %q (%v), want Archive/2024", subs, err)
	}
}

// TestImportDovecotMaildir is the test: mail delivered to a real
// Dovecot over LMTP, with flags and keywords set, one message expunged (a
// gap in the UIDs), a folder created, subscribed and copied into over
// IMAP; its Maildir is then imported, and every mailbox has the
// UIDVALIDITY, UIDNEXT, UIDs, flags and keywords Dovecot served, and the
// subscription. A second import resumes: it adds nothing.
func TestImportDovecotMaildir(t *testing.T) {
	d := startDovecot(t, "")
	d.fill()
	served := d.served()
	if len(served["INBOX"].Messages) != 3 || served["INBOX"].UIDNext != 5 || len(served["Archive/2024"].Messages) != 1 {
		t.Fatalf("Dovecot served %+v: want 3 messages in INBOX (UIDNEXT 5), 1 in Archive.2024", served)
	}
	d.Script("stop")

	ctx := context.Background()
	s := openStore(t, t.TempDir())
	last := map[string][2]int{}
	rep, err := backup.Import(ctx, s, dovecotUser, d.Maildir(), backup.ImportOptions{PasswordHash: "{PLAIN}pw",
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
	u, err := s.User(ctx, dovecotUser)
	if err != nil {
		t.Fatal(err)
	}
	compareServed(t, s, u, served, false)

	// Run again, as after an interruption: everything is there already.
	rep, err = backup.Import(ctx, s, dovecotUser, d.Maildir(), backup.ImportOptions{})
	if err != nil {
		t.Fatalf("second Import: %v", err)
	}
	for _, m := range rep.Mailboxes {
		if m.Messages != 0 || m.UIDOffset != 0 {
			t.Errorf("second import of %s: %+v, want nothing imported, no offset", m.Name, m)
		}
	}
	compareServed(t, s, u, served, false)
}

// TestImportIMAPDovecot imports the same account over IMAP from the
// running Dovecot: every mailbox has the UIDVALIDITY, UIDNEXT, UIDs,
// flags and keywords, INTERNALDATEs and bodies (byte for byte) Dovecot
// served, and the subscription; a mailbox Dovecot lists as \Sent keeps
// that special use; the import set no \Seen on the server. A message
// delivered afterwards is all a second import adds (it skips
// the UIDs imported before), logged in this time as a Dovecot master user
// with the user as SASL PLAIN authorization identity.
func TestImportIMAPDovecot(t *testing.T) {
	// A master user (Dovecot's name for an administrator who logs in as
	// anyone) for the second import.
	top := testkit.DovecotTop(t)
	masters := filepath.Join(top, "masters")
	if err := os.WriteFile(masters, []byte("admin:{PLAIN}adminpw::::::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	extra := filepath.Join(top, "master.conf")
	err := os.WriteFile(extra, []byte(`passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u `+masters+`
  master = yes
}
namespace inbox {
  inbox = yes
  mailbox "Sent Items" {
    special_use = \Sent
    auto = create
  }
}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	d := startDovecot(t, extra)
	d.fill()
	served := d.served()
	if len(served["INBOX"].Messages) != 3 || len(served["Archive/2024"].Messages) != 1 {
		t.Fatalf("Dovecot served %+v: want 3 messages in INBOX, 1 in Archive.2024", served)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := backup.IMAPSource{Addr: "127.0.0.1:" + d.IMAPPort, Security: "plain", User: dovecotUser, PasswordFile: pwFile}

	ctx := context.Background()
	s := openStore(t, t.TempDir())
	last := map[string][2]int{}
	rep, err := backup.Import(ctx, s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src, PasswordHash: "{PLAIN}pw",
		Progress: func(mailbox string, done, total int) { last[mailbox] = [2]int{done, total} }})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if last["INBOX"] != [2]int{3, 3} || last["Archive/2024"] != [2]int{1, 1} || rep.Subscriptions != 1 {
		t.Errorf("progress ended at %v, report %+v: want INBOX 3/3, Archive/2024 1/1, 1 subscription", last, rep)
	}
	u, err := s.User(ctx, dovecotUser)
	if err != nil {
		t.Fatal(err)
	}
	compareServed(t, s, u, served, true)
	// A special use (RFC 6154) comes along with a mailbox the import makes.
	if mb, err := s.Mailbox(ctx, u, "Sent Items"); err != nil || mb.SpecialUse != `\Sent` {
		t.Errorf("Sent Items: %+v %v, want the special use \\Sent Dovecot lists", mb, err)
	}
	if again := d.served(); !reflect.DeepEqual(again, served) {
		t.Errorf("the import changed what Dovecot serves:\n%+v\nbefore:\n%+v", again, served)
	}

	d.deliver(5, 5)
	served = d.served()
	if err := os.WriteFile(pwFile, []byte("adminpw"), 0o600); err != nil {
		t.Fatal(err)
	}
	src.Admin = "admin"
	rep, err = backup.Import(ctx, s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src})
	if err != nil {
		t.Fatalf("second Import, as the master user: %v", err)
	}
	want := map[string]backup.MailboxReport{
		"INBOX":        {Name: "INBOX", Messages: 1, Skipped: 3, UIDValidity: served["INBOX"].UIDValidity},
		"Archive/2024": {Name: "Archive/2024", Messages: 0, Skipped: 1, UIDValidity: served["Archive/2024"].UIDValidity},
	}
	for _, m := range rep.Mailboxes {
		if w, ok := want[m.Name]; ok && m != w {
			t.Errorf("second import of %s: %+v, want %+v", m.Name, m, w)
		}
	}
	compareServed(t, s, u, served, true)
}

// TestImportIMAPDovecotTLS imports from a Dovecot that speaks TLS, its
// certificate self-signed: over STARTTLS and over implicit TLS with
// ImportOptions.IMAP.CAFile naming it (the same UIDVALIDITY, UIDs and
// bodies), and refused without (the certificate is verified).
func TestImportIMAPDovecotTLS(t *testing.T) {
	top := testkit.DovecotTop(t)
	cfg := testkit.SelfSigned(t)
	key, err := x509.MarshalECPrivateKey(cfg.Certificates[0].PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, extra := filepath.Join(top, "cert.pem"), filepath.Join(top, "key.pem"), filepath.Join(top, "tls.conf")
	imaps := testkit.CommonPorts(t, 1, "127.0.0.1")[0]
	for name, data := range map[string][]byte{
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cfg.Certificates[0].Certificate[0]}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}),
		extra: fmt.Appendf(nil, "ssl = yes\nssl_cert = <%s\nssl_key = <%s\nservice imap-login {\n  inet_listener imaps {\n    address = 127.0.0.1\n    port = %d\n  }\n}\n",
			certFile, keyFile, imaps),
	} {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d := startDovecot(t, extra)
	d.fill()
	served := d.served()["INBOX"]
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := openStore(t, t.TempDir())
	for i, src := range []backup.IMAPSource{
		{Addr: "127.0.0.1:" + d.IMAPPort, Security: "starttls"},
		{Addr: fmt.Sprintf("127.0.0.1:%d", imaps), Security: "tls"},
	} {
		src.User, src.PasswordFile = dovecotUser, pwFile
		if _, err := backup.Import(ctx, s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src, PasswordHash: "{PLAIN}pw"}); err == nil ||
			!strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s without the CA file: %v, want a certificate error", src.Security, err)
		}
		src.CAFile = certFile
		who := fmt.Sprintf("tls%d@example.org", i)
		rep, err := backup.Import(ctx, s, who, "", backup.ImportOptions{Source: "imap", IMAP: src, PasswordHash: "{PLAIN}pw"})
		if err != nil {
			t.Fatalf("%s: %v", src.Security, err)
		}
		u, err := s.User(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		got := snapshot(t, s, u)["INBOX"]
		if len(rep.Mailboxes) != 2 || got.UIDValidity != served.UIDValidity || len(got.Messages) != len(served.Messages) {
			t.Fatalf("%s: imported INBOX %+v, report %+v; Dovecot served %+v", src.Security, got, rep, served)
		}
		for _, m := range got.Messages {
			if m.Body != served.Messages[m.UID].Body {
				t.Errorf("%s: UID %d holds %q, Dovecot served %q", src.Security, m.UID, m.Body, served.Messages[m.UID].Body)
			}
		}
	}
}

// TestImportIMAPInterrupted stops an import over IMAP after its first
// batch of INBOX (64 of 69 messages) is committed, as a stopped command
// does: inside the one UID FETCH of all 69 bodies (the default batch is
// 100), which is left unread; run again, the import takes the UIDs from INBOX's UIDNEXT on,
// and the user ends with what Dovecot served, bodies byte for byte.
func TestImportIMAPInterrupted(t *testing.T) {
	d := startDovecot(t, "")
	d.fill()
	d.deliver(5, 70)
	served := d.served()
	if n := len(served["INBOX"].Messages); n != 69 {
		t.Fatalf("Dovecot serves %d messages in INBOX, want 69", n)
	}
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := backup.IMAPSource{Addr: "127.0.0.1:" + d.IMAPPort, Security: "plain", User: dovecotUser, PasswordFile: pwFile}
	s := openStore(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := backup.Import(ctx, s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src, PasswordHash: "{PLAIN}pw",
		Progress: func(mailbox string, done, total int) {
			if mailbox == "INBOX" {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted import: %v, want context.Canceled", err)
	}
	u, err := s.User(context.Background(), dovecotUser)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(snapshot(t, s, u)["INBOX"].Messages); n != 64 {
		t.Fatalf("after the interruption INBOX holds %d messages, want the first batch, 64", n)
	}
	rep, err := backup.Import(context.Background(), s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range rep.Mailboxes {
		if m.Name == "INBOX" && (m.Messages != 5 || m.Skipped != 64 || m.UIDOffset != 0) {
			t.Errorf("resumed import of INBOX: %+v, want 5 imported, 64 skipped, no offset", m)
		}
	}
	compareServed(t, s, u, served, true)
}
