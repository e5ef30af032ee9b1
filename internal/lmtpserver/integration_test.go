package lmtpserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// realStore is a store.Store over a fresh embedded backend, with users.
type realStore struct {
	t  *testing.T
	b  *embedded.Backend
	s  *store.Store
	us map[string]store.User
}

func newRealStore(t *testing.T, addrs ...string) *realStore {
	t.Helper()
	return newRealStoreOn(t, t.TempDir(), embedded.Options{NoSync: true}, addrs...)
}

// newRealStoreOn is newRealStore with the backend in dir, opened with o.
func newRealStoreOn(t *testing.T, dir string, o embedded.Options, addrs ...string) *realStore {
	t.Helper()
	b, err := embedded.Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rs := &realStore{t: t, b: b, s: store.New(b, store.Options{}), us: map[string]store.User{}}
	for _, a := range addrs {
		u, err := rs.s.CreateUser(context.Background(), a, "")
		if err != nil {
			t.Fatal(err)
		}
		rs.us[a] = u
	}
	return rs
}

// inbox returns the rows of the user's INBOX.
func (rs *realStore) inbox(addr string) []store.MessageRow {
	rs.t.Helper()
	ctx := context.Background()
	mb, err := rs.s.Mailbox(ctx, rs.us[addr], "INBOX")
	if err != nil {
		rs.t.Fatal(err)
	}
	var rows []store.MessageRow
	if err := rs.s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		rs.t.Fatal(err)
	}
	return rows
}

// body reads a message's body back from the store.
func (rs *realStore) body(m store.MessageMeta) []byte {
	rs.t.Helper()
	bl, err := rs.s.OpenBody(context.Background(), m)
	if err != nil {
		rs.t.Fatal(err)
	}
	defer bl.Close()
	b, err := io.ReadAll(io.NewSectionReader(bl, 0, bl.Size()))
	if err != nil {
		rs.t.Fatal(err)
	}
	return b
}

func blobID(b []byte) store.BlobID {
	sum := sha256.Sum256(b)
	return store.BlobID(hex.EncodeToString(sum[:]))
}

// TestEmbeddedDelivery delivers one message to five recipients over the
// real store: two good, one unknown, one over quota, one good.
func TestEmbeddedDelivery(t *testing.T) {
	rs := newRealStore(t, "alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org")
	carol := rs.us["carol@example.org"]
	carol.QuotaStorage = 10 // below the message's size
	if err := rs.s.UpdateUser(context.Background(), carol); err != nil {
		t.Fatal(err)
	}
	_, addr, _ := startServer(t, testOptions(rs.s))
	c := dial(t, addr)
	c.lhlo()
	c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	c.do("RCPT TO:<bob@example.org>", "250 2.1.5 <bob@example.org> ok")
	c.do("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such user here")
	c.do("RCPT TO:<carol@example.org>", "250 2.1.5 <carol@example.org> ok")
	c.do("RCPT TO:<dave@example.org>", "250 2.1.5 <dave@example.org> ok")
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	c.send(msg + ".\r\n")
	c.expect("250 2.0.0 <alice@example.org> delivered",
		"250 2.0.0 <bob@example.org> delivered",
		"552 5.2.2 <carol@example.org> mailbox full",
		"250 2.0.0 <dave@example.org> delivered")

	want := blobID([]byte(msg))
	for _, a := range []string{"alice@example.org", "bob@example.org", "dave@example.org"} {
		rows := rs.inbox(a)
		if len(rows) != 1 {
			t.Fatalf("%s has %d messages, want 1", a, len(rows))
		}
		m := rows[0].Meta
		if m.Blob != want || m.ReturnPath != "s@remote.test" || m.Size != int64(len(msg)) {
			t.Errorf("%s: blob %s, return path %q, size %d", a, m.Blob, m.ReturnPath, m.Size)
		}
		if got := rs.body(m); string(got) != msg {
			t.Errorf("%s: body %q", a, got)
		}
	}
	if rows := rs.inbox("carol@example.org"); len(rows) != 0 {
		t.Errorf("carol, over quota, has %d messages", len(rows))
	}
	if ok, err := rs.b.HasBlob(context.Background(), want); err != nil || !ok {
		t.Errorf("HasBlob(%s) = %v, %v", want, ok, err)
	}

	// +detail delivers to the user.
	c.transact("s@remote.test", "alice+lists@example.org")
	c.expect("250 2.0.0 <alice+lists@example.org> delivered")
	if n := len(rs.inbox("alice@example.org")); n != 2 {
		t.Errorf("alice has %d messages after the +detail delivery, want 2", n)
	}
}

// TestEmbeddedTooBig refuses a message over the limit and then delivers
// the next one on the same connection.
func TestEmbeddedTooBig(t *testing.T) {
	rs := newRealStore(t, "alice@example.org")
	o := testOptions(rs.s)
	o.MaxMessageSize = 4096
	_, addr, _ := startServer(t, o)
	c := dial(t, addr)
	c.send("LHLO mta.test\r\n")
	for range 7 {
		if _, err := c.line(); err != nil {
			t.Fatal(err)
		}
	}
	c.do("MAIL FROM:<s@remote.test> SIZE=5000", "552 5.3.4 message size exceeds fixed limit")
	c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	c.send("Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef\r\n", 300) + ".\r\n")
	c.expect("552 5.3.4 <alice@example.org> message too large")
	c.transact("s@remote.test", "alice@example.org")
	c.expect("250 2.0.0 <alice@example.org> delivered")
	if rows := rs.inbox("alice@example.org"); len(rows) != 1 || string(rs.body(rows[0].Meta)) != msg {
		t.Errorf("INBOX after the refused and the good message: %d rows", len(rows))
	}
}

// TestEmbeddedDiskFull: while the store's disk is below its reserve, every
// recipient gets 452 4.3.1 (RFC 5321 4.2.3, RFC 3463 X.3.1) and nothing is
// stored; once space is freed, the retry is delivered.
func TestEmbeddedDiskFull(t *testing.T) {
	mem := vfs.NewMem()
	rs := newRealStoreOn(t, "/data", embedded.Options{NoSync: true, FS: mem, MinFree: 64 << 20}, "alice@example.org", "bob@example.org")
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 20, TotalBytes: 1 << 30})
	_, addr, _ := startServer(t, testOptions(rs.s))
	c := dial(t, addr)
	c.lhlo()
	c.transact("s@remote.test", "alice@example.org", "bob@example.org")
	c.expect("452 4.3.1 <alice@example.org> insufficient system storage, try again later",
		"452 4.3.1 <bob@example.org> insufficient system storage, try again later")
	for _, a := range []string{"alice@example.org", "bob@example.org"} {
		if rows := rs.inbox(a); len(rows) != 0 {
			t.Fatalf("%s has %d messages after 452", a, len(rows))
		}
	}
	if ok, err := rs.b.HasBlob(context.Background(), blobID([]byte(msg))); ok || err != nil {
		t.Fatalf("the refused message's body is stored (%v)", err)
	}
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 1 << 30, TotalBytes: 1 << 30})
	c.transact("s@remote.test", "alice@example.org", "bob@example.org")
	c.expect("250 2.0.0 <alice@example.org> delivered", "250 2.0.0 <bob@example.org> delivered")
	for _, a := range []string{"alice@example.org", "bob@example.org"} {
		if rows := rs.inbox(a); len(rows) != 1 || string(rs.body(rows[0].Meta)) != msg {
			t.Fatalf("%s: %d messages after the retry", a, len(rows))
		}
	}
}

// malformed is a corpus of broken messages; each must be stored byte for
// byte (DESIGN.md 3.5).
var malformed = map[string]string{
	"bad boundary": "From: a@b\r\nContent-Type: multipart/mixed; boundary=\"abc\"\r\n\r\n--abd\r\npart\r\n--abc\r\n" +
		"Content-Type: text/plain\r\n\r\nno closing boundary\r\n--ab",
	"8-bit headers":   "Subject: H\xe9llo w\xf6rld\r\nFrom: J\xfcrgen <j@x>\r\nX-Raw: \x00\x01\x7f\r\n\r\nbody \xff\xfe\r\n",
	"unknown charset": "Content-Type: text/plain; charset=x-klingon-42\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E9=ZZ=\r\n",
	"bad base64":      "Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64===\r\nQUJD\r\n",
	"truncated": "From: a@b\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n" +
		"Content-Type: text/html\r\n\r\n<html><bo",
	"lone CR and LF":     "Subject: mix\r\n\r\nline1\rline2\nline3\r\r\n\n\r\r\n\r",
	"dots":               "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n. space\r\n.\rX\r\n.\nY\r\n.",
	"LF only":            "Subject: unix\n\n.\nbody\n",
	"no header":          "just a line without a colon\r\n",
	"empty":              "",
	"header only":        "Subject: nothing follows",
	"long line":          "Subject: long\r\n\r\n" + strings.Repeat("L", 20000) + "\r\n",
	"nested rfc822 junk": "Content-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed\r\n\r\n--\r\n--\r\n",
}

// TestEmbeddedMalformedRoundTrip sends each malformed message with DATA
// (dot-stuffed, CRLF added when it does not end with one, as DATA must)
// and with BDAT (exactly), and reads each back from the store.
func TestEmbeddedMalformedRoundTrip(t *testing.T) {
	corpus := map[string]string{}
	for k, v := range malformed {
		corpus[k] = v
	}
	files, _ := filepath.Glob(filepath.Join("..", "message", "testdata", "*.eml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) <= 1<<16-2 {
			corpus[filepath.Base(f)] = string(b)
		}
	}
	t.Logf("%d messages, %d from internal/message/testdata", len(corpus), len(files))
	rs := newRealStore(t, "alice@example.org")
	_, addr, _ := startServer(t, testOptions(rs.s))
	c := dial(t, addr)
	c.lhlo()
	check := func(name, how string, want []byte) {
		t.Helper()
		rows := rs.inbox("alice@example.org")
		last := rows[len(rows)-1].Meta
		if got := rs.body(last); !bytes.Equal(got, want) {
			t.Errorf("%s via %s: stored %q\nwant %q", name, how, got, want)
		}
		if last.Blob != blobID(want) {
			t.Errorf("%s via %s: blob %s is not the hash of the body", name, how, last.Blob)
		}
	}
	for name, m := range corpus {
		sent := m
		if !strings.HasSuffix(sent, "\r\n") && sent != "" {
			sent += "\r\n"
		}
		c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
		c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
		c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
		c.send(dotStuff(sent) + ".\r\n")
		c.expect("250 2.0.0 <alice@example.org> delivered")
		check(name, "DATA", []byte(sent))

		c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
		c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
		c.bdat(m, true)
		c.expect("250 2.0.0 <alice@example.org> delivered")
		check(name, "BDAT", []byte(m))
	}
}

// dotStuff doubles the dot that starts a line (RFC 5321 4.5.2); only CRLF
// ends a line.
func dotStuff(s string) string {
	var b strings.Builder
	bol := true
	for i := 0; i < len(s); i++ {
		if bol && s[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(s[i])
		bol = s[i] == '\n' && i > 0 && s[i-1] == '\r'
	}
	return b.String()
}
