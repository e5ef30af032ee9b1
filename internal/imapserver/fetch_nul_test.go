package imapserver

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A message with NUL bytes, APPENDed as literal8 (RFC 3516 4.4), is served
// through BODY[] and RFC822 converted (nul.go): its binary part in base64,
// with BODYSTRUCTURE and RFC822.SIZE describing what BODY[] returns, and no
// NUL in an ordinary literal (RFC 9051 4.3). BINARY[] returns the stored
// bytes.
func TestFetchNUL(t *testing.T) {
	const (
		head = "From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n"
		binary = "\x00-\xe4\r\n\r\n" // part 2's body (the CRLF before the delimiter is not in it)
		msg    = head + "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n" + binary + "\r\n--b--\r\n"
		served = head + "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n" + "AC3kDQoNCg==" + "\r\n--b--\r\n"
		// A NUL in a header goes out as 0x80, as Dovecot sends it.
		hdrNUL = "Subject: a\x00b\r\n\r\nbody\r\n"
	)
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		c.ok("APPEND INBOX ~{%d+}\r\n%s", len(msg), msg)
		c.ok("APPEND INBOX ~{%d+}\r\n%s", len(hdrNUL), hdrNUL)
		c.ok("EXAMINE INBOX")
		for _, tc := range []struct{ cmd, want string }{
			{"FETCH 1 BODY.PEEK[2]", "* 1 FETCH (BODY[2] {12}\r\nAC3kDQoNCg==)"},
			{"FETCH 1 BODY.PEEK[2.MIME]", "* 1 FETCH (BODY[2.MIME] {77}\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n)"},
			{"FETCH 1 (RFC822.SIZE BODY.PEEK[])", "* 1 FETCH (RFC822.SIZE " + strconv.Itoa(len(served)) + " BODY[] {" + strconv.Itoa(len(served)) + "}\r\n" + served + ")"},
			{"FETCH 1 RFC822", "* 1 FETCH (RFC822 {" + strconv.Itoa(len(served)) + "}\r\n" + served + ")"},
			{"FETCH 1 BODY.PEEK[]<100.20>", "* 1 FETCH (BODY[]<100> {20}\r\n" + served[100:120] + ")"},
			{"FETCH 1 BODYSTRUCTURE", `* 1 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 1 NIL NIL NIL NIL)` +
				`("application" "octet-stream" NIL NIL NIL "BASE64" 12 NIL NIL NIL NIL) "mixed" ("boundary" "b") NIL NIL NIL))`},
			{"FETCH 1 (BINARY.SIZE[2] BINARY.PEEK[2])", "* 1 FETCH (BINARY.SIZE[2] 7 BINARY[2] ~{7}\r\n" + binary + ")"},
			{"FETCH 1 BINARY.PEEK[]", "* 1 FETCH (BINARY[] ~{" + strconv.Itoa(len(msg)) + "}\r\n" + msg + ")"},
			{"FETCH 2 (RFC822.SIZE BODY.PEEK[HEADER])", "* 2 FETCH (RFC822.SIZE 22 BODY[HEADER] {16}\r\nSubject: a\x80b\r\n\r\n)"},
		} {
			if got := c.ok("%s", tc.cmd); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("%s:\n got %q\nwant %q", tc.cmd, got, []string{tc.want})
			}
		}
		for _, l := range c.ok("FETCH 1:2 (BODY.PEEK[] RFC822.TEXT BODY.PEEK[1] BODY.PEEK[2])") {
			if strings.Contains(l, "\x00") {
				t.Errorf("NUL in an ordinary literal: %q", l)
			}
		}
	})
}
