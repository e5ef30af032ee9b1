package imapserver

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

const mimeMsg = "From: Alice <alice@example.org>\r\n" +
	"To: Bob <bob@example.org>\r\n" +
	"Subject: parts\r\n" +
	"Date: Tue, 3 Feb 2026 11:00:00 +0100\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"caf=C3=A9 au lait\r\n" +
	"--b1\r\n" +
	"Content-Type: application/octet-stream; name=\"bin.dat\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"AAECAwQ=\r\n" +
	"--b1\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: inner\r\n" +
	"From: carol@example.org\r\n" +
	"\r\n" +
	"inner body\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain\r\n" +
	"Content-Transfer-Encoding: x-uuencode\r\n" +
	"\r\n" +
	"begin 644 x\r\n" +
	"--b1--\r\n"

func TestFetchSections(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver(mimeMsg)
		c := e.login()
		c.ok("EXAMINE INBOX")
		has(t, c.ok("FETCH 1 BODY.PEEK[1]"), "BODY[1] {17}\r\ncaf=C3=A9 au lait)")
		has(t, c.ok("FETCH 1 BODY.PEEK[1.MIME]"), "BODY[1.MIME] {88}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
		has(t, c.ok("FETCH 1 BODY.PEEK[3.HEADER]"), "BODY[3.HEADER] {43}\r\nSubject: inner\r\nFrom: carol@example.org\r\n\r\n")
		has(t, c.ok("FETCH 1 BODY.PEEK[3.TEXT]"), "BODY[3.TEXT] {10}\r\ninner body)")
		has(t, c.ok("FETCH 1 BODY.PEEK[3.1]"), "BODY[3.1] {10}\r\ninner body)")
		has(t, c.ok("FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From To Date MIME-Version Content-Type)]"), "Subject: parts\r\n\r\n)")
		has(t, c.ok("FETCH 1 BODY.PEEK[TEXT]<0.8>"), "BODY[TEXT]<0> {8}\r\npreamble")
		has(t, c.ok("FETCH 1 BODY.PEEK[]<2000.10>"), "BODY[]<2000> {0}\r\n)")
		has(t, c.ok("FETCH 1 BODY.PEEK[9]"), "BODY[9] NIL")
		has(t, c.ok("FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])"), "BINARY[1] {13}\r\ncafé au lait", "BINARY.SIZE[1] 13")
		has(t, c.ok("FETCH 1 BINARY.PEEK[2]"), "BINARY[2] ~{5}\r\n\x00\x01\x02\x03\x04")
		has(t, c.ok("FETCH 1 BINARY.PEEK[1]<1.3>"), "BINARY[1]<1> {3}\r\naf")
		c.expect("NO [UNKNOWN-CTE]", "FETCH 1 BINARY.PEEK[4]")
		has(t, c.ok("FETCH 1 (BODYSTRUCTURE)"), `("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 17 1`, `"message" "rfc822"`, `"mixed" ("boundary" "b1")`)
		has(t, c.ok("FETCH 1 (RFC822.HEADER)"), "RFC822.HEADER {", "Subject: parts")
		has(t, c.ok("FETCH 1 (FLAGS)"), "FLAGS (\\Recent)") // EXAMINE: nothing marked \Seen
		has(t, c.ok("FETCH 1 (RFC822.SIZE INTERNALDATE SAVEDATE EMAILID THREADID)"), fmt.Sprintf("RFC822.SIZE %d", len(mimeMsg)), "INTERNALDATE \"", "SAVEDATE \"", "EMAILID (M", "THREADID NIL")
	})
}

// TestFetchLarge streams a 6 MB message and its partials byte for byte.
func TestFetchLarge(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var b strings.Builder
		b.WriteString("Subject: big\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
		raw := make([]byte, 4500000)
		for i := range raw {
			raw[i] = byte(i * 7 % 251)
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		for i := 0; i < len(enc); i += 76 {
			b.WriteString(enc[i:min(i+76, len(enc))] + "\r\n")
		}
		msg := b.String()
		e.deliver(msg)
		c := e.login()
		c.ok("SELECT INBOX")
		lines := c.ok("FETCH 1 BODY[]")
		want := sha256.Sum256([]byte(msg))
		body := lines[0][strings.Index(lines[0], "\r\n")+2 : len(lines[0])-len(" FLAGS (\\Seen \\Recent))")]
		if sha256.Sum256([]byte(body)) != want {
			t.Fatalf("BODY[] of %d bytes differs (got %d bytes)", len(msg), len(body))
		}
		lines = c.ok("FETCH 1 BINARY.PEEK[1]<4000000.100>")
		got := lines[0][strings.Index(lines[0], "\r\n")+2:]
		if !strings.HasPrefix(got, string(raw[4000000:4000100])) {
			t.Fatal("BINARY partial differs")
		}
		has(t, c.ok("FETCH 1 BINARY.SIZE[1]"), "BINARY.SIZE[1] 4500000")
	})
}
