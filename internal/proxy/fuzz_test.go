package proxy

import (
	"bufio"
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/testkit"
)

// FuzzReadTagged: whatever an access host sends, readTagged does not
// panic, returns what it read as read (a prefix of the input), within
// maxReply, and a status only with the tagged line last.
func FuzzReadTagged(f *testing.F) {
	for _, s := range []string{
		"* CAPABILITY IMAP4rev2\r\na OK [CAPABILITY X] Logged in\r\n",
		"* 1 FETCH (BODY[] {5}\r\nhello)\r\na NO bad\r\n",
		"a BAD\r\n", "+ go\r\n", "* {99999999999}\r\n", "a OK", "* x {3}\r\nab", "a WHAT x\r\n", "\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		st, lines, err := readTagged(bufio.NewReaderSize(bytes.NewReader(in), 16), "a")
		all := bytes.Join(lines, nil)
		if len(all) > maxReply {
			t.Fatalf("read %d bytes, over maxReply", len(all))
		}
		if err != nil {
			return
		}
		if st != "OK" && st != "NO" && st != "BAD" {
			t.Fatalf("status %q", st)
		}
		if len(lines) == 0 || !bytes.HasPrefix(lines[len(lines)-1], []byte("a ")) {
			t.Fatalf("status %s without the tagged line last: %q", st, lines)
		}
		// Line ends may be normalized to CRLF; the rest is as sent.
		norm := func(b []byte) []byte {
			return bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n")), []byte("\r"), nil)
		}
		if !bytes.HasPrefix(norm(in), norm(all)) {
			t.Fatalf("returned %q, not what was read from %q", all, in)
		}
	})
}

var smtpLine = regexp.MustCompile(`^[0-9]{3}( .*)?$`)

// FuzzReadSMTPReply: a reply is its last line, code first; no input
// panics or reads more than a bounded number of lines.
func FuzzReadSMTPReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250-b\r\n250 c\r\n", "25\r\n", "250-x\r\n", "abc def\r\n", "354\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := readSMTPReply(bufio.NewReader(bytes.NewReader(in)))
		if err == nil && !smtpLine.MatchString(r) {
			t.Fatalf("reply %q", r)
		}
	})
}

// nobody is a directory without users.
type nobody struct{}

func (nobody) Lookup(context.Context, string) (directory.Entry, error) {
	return directory.Entry{}, mail.ErrNoSuchUser
}

// fuzzLogins refuse everyone after a lookup, at once.
func fuzzLogins() *Logins {
	return &Logins{Router: NewRouter(RouterOptions{}), Dir: nobody{}, Unknown: &countingUnknowns{},
		Guard: login.NewGuard(login.GuardOptions{FreeFailures: 1 << 20})}
}

// session runs serve over a script connection and returns what it wrote.
func session(in []byte, serve func(nc *netserve.Conn)) string {
	sc := testkit.NewScriptConn(in)
	serve(&netserve.Conn{Conn: sc})
	return sc.Out.String()
}

// FuzzSessions feeds arbitrary input to the IMAP, POP3 and LMTP proxies
// before login (no host is ever reached: the directory knows no one). No
// input panics a session, and every line written is a protocol line.
func FuzzSessions(f *testing.F) {
	for _, s := range []string{
		"a CAPABILITY\r\nb LOGIN x y\r\nc AUTHENTICATE PLAIN\r\nAHgAeQ==\r\nd ID (\"a\" \"b\")\r\ne LOGOUT\r\n",
		"a LOGIN {3}\r\nabc {1}\r\nd\r\nb STARTTLS\r\nc NOOP\r\n",
		"a AUTHENTICATE LOGIN\r\neA==\r\neQ==\r\nb AUTHENTICATE LOGIN\r\n*\r\nc AUTHENTICATE LOGIN eA==\r\n",
		"CAPA\r\nUSER x\r\nPASS y z\r\nAUTH PLAIN\r\n*\r\nAUTH PLAIN AHgAeQ==\r\nSTLS\r\nQUIT\r\n",
		"LHLO x\r\nMAIL FROM:<a@b> SIZE=99999999999\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nRSET\r\nQUIT\r\n",
		"\r\n\r\n" + strings.Repeat("z", 5000) + "\r\n",
	} {
		f.Add([]byte(s))
	}
	imapLine := regexp.MustCompile(`^(\* |\+ |[^ ]+ (OK|NO|BAD) )`)
	popLine := regexp.MustCompile(`^(\+OK|-ERR|\+ |[A-Z.])`)
	lmtpLine := regexp.MustCompile(`^[0-9]{3}[ -]`)
	f.Fuzz(func(t *testing.T, in []byte) {
		var panics testkit.PanicCounter
		log := panics.Logger()
		check := func(proto, out string, re *regexp.Regexp) {
			for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
				if l != "" && !re.MatchString(l) {
					t.Fatalf("%s wrote %q", proto, l)
				}
			}
		}
		imap := NewIMAP(IMAPOptions{Logins: fuzzLogins(), Logger: log, AllowPlaintext: true, MaxLineLength: 1024, Timeout: time.Second})
		check("IMAP", session(in, func(nc *netserve.Conn) { imap.newSession(nc, false, nc).serve() }), imapLine)
		pop3 := NewPOP3(POP3Options{Logins: fuzzLogins(), Logger: log, AllowPlaintext: true, Timeout: time.Second})
		check("POP3", session(in, func(nc *netserve.Conn) { pop3.newSession(nc, false, nc).serve() }), popLine)
		lmtp := NewLMTP(LMTPOptions{Router: NewRouter(RouterOptions{}), Dir: nobody{}, Logger: log, MaxMessageSize: 100, Timeout: time.Second})
		check("LMTP", session(in, func(nc *netserve.Conn) { lmtp.newSession(nc, nc).serve() }), lmtpLine)
		if n := panics.N.Load(); n > 0 {
			t.Fatalf("%d sessions panicked", n)
		}
	})
}
