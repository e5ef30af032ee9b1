package imapwire

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/quiremail/quire/internal/mail"
)

// maxQuoted is the longest string written quoted; longer ones are literals.
const maxQuoted = 1024

// Writer writes IMAP responses. Errors are sticky in the bufio.Writer and
// reported by Flush. It is not safe for concurrent use.
type Writer struct {
	bw   *bufio.Writer
	utf8 bool
}

// NewWriter returns a Writer on bw.
func NewWriter(bw *bufio.Writer) *Writer { return &Writer{bw: bw} }

// SetUTF8Accept makes mailbox names and strings go out as raw UTF-8, as
// after ENABLE UTF8=ACCEPT (RFC 6855 3).
func (w *Writer) SetUTF8Accept(on bool) { w.utf8 = on }

// UTF8Accept reports SetUTF8Accept's setting.
func (w *Writer) UTF8Accept() bool { return w.utf8 }

// RawBytes writes b, a response fragment this package encoded before (a
// cached ENVELOPE), as it is.
func (w *Writer) RawBytes(b []byte) { w.bw.Write(b) }

// Flush writes buffered data and returns the first error.
func (w *Writer) Flush() error { return w.bw.Flush() }

// Continue writes a continuation request and flushes it (RFC 9051 7.5), so
// a Writer is the Reader's Continuer.
func (w *Writer) Continue(text string) error {
	w.bw.WriteString("+ " + respText(text) + "\r\n")
	return w.bw.Flush()
}

// Status writes a complete status response line (RFC 9051 7.1): tag ""
// writes an untagged one; code, if not empty, is written in brackets.
func (w *Writer) Status(tag, status, code, text string) {
	if tag == "" {
		tag = "*"
	}
	w.bw.WriteString(tag + " " + status + " ")
	if code != "" {
		w.bw.WriteString("[" + respText(code) + "] ")
	}
	w.bw.WriteString(respText(text) + "\r\n")
}

// respText replaces the characters that cannot appear in resp-text.
func respText(s string) string {
	if s == "" {
		return "."
	}
	return strings.Map(func(c rune) rune {
		if c == '\r' || c == '\n' || c == 0 {
			return ' '
		}
		return c
	}, s)
}

// Untagged starts an untagged response ("* "); finish it with CRLF.
func (w *Writer) Untagged() { w.bw.WriteString("* ") }

// Raw writes s as it is: protocol text the caller has formatted.
func (w *Writer) Raw(s string) { w.bw.WriteString(s) }

// SP writes a space.
func (w *Writer) SP() { w.bw.WriteByte(' ') }

// CRLF ends a response line.
func (w *Writer) CRLF() { w.bw.WriteString("\r\n") }

// Atom writes an atom; the caller guarantees its syntax.
func (w *Writer) Atom(s string) { w.bw.WriteString(s) }

// Number writes a decimal number.
func (w *Writer) Number(n uint64) {
	var b [20]byte
	w.bw.Write(strconv.AppendUint(b[:0], n, 10))
}

// NIL writes NIL.
func (w *Writer) NIL() { w.bw.WriteString("NIL") }

// Open and Close write the parentheses of a list.
func (w *Writer) Open()  { w.bw.WriteByte('(') }
func (w *Writer) Close() { w.bw.WriteByte(')') }

// String writes s as a quoted string, or as a literal when it is long or
// has characters a quoted string cannot carry (RFC 9051 4.3). NUL, which no
// string can carry, is written as U+FFFD, as Dovecot does.
func (w *Writer) String(s string) {
	if ok, escape := scanQuoted(s, w.utf8); ok {
		w.quoted(s, escape)
		return
	}
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	w.bw.WriteString("{" + strconv.Itoa(len(s)) + "}\r\n")
	w.bw.WriteString(s)
}

// NString writes s, or NIL if s is empty.
func (w *Writer) NString(s string) {
	if s == "" {
		w.NIL()
		return
	}
	w.String(s)
}

// AString writes s as an atom when it can be one, else as String does.
func (w *Writer) AString(s string) {
	if s != "" && isAtomText(s) && !strings.EqualFold(s, "NIL") {
		w.bw.WriteString(s)
		return
	}
	w.String(s)
}

// Literal writes a literal of size bytes read from r; literal8 ("~{n}", RFC
// 3516 4.2) when binary is set. It returns r's error, or io.ErrUnexpectedEOF
// if r ends early; the connection is then out of step and must be closed.
func (w *Writer) Literal(size int64, r io.Reader, binary bool) error {
	if binary {
		w.bw.WriteByte('~')
	}
	w.bw.WriteString("{" + strconv.FormatInt(size, 10) + "}\r\n")
	n, err := io.Copy(w.bw, io.LimitReader(r, size))
	if err == nil && n < size {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Mailbox writes a mailbox name given in UTF-8: modified UTF-7 (RFC 3501
// 5.1.3) unless UTF8=ACCEPT is on.
func (w *Writer) Mailbox(name string) {
	if !w.utf8 {
		name = EncodeMailbox(name)
	}
	w.AString(name)
}

// Flags writes a parenthesized flag list.
func (w *Writer) Flags(fs mail.Flags) {
	w.FlagsPlus(fs, "")
}

// FlagsPlus writes a flag list of fs and, if it is not empty, extra
// after them (\Recent, which the store does not keep), without building
// a new list: FETCH FLAGS writes one per message.
func (w *Writer) FlagsPlus(fs mail.Flags, extra string) {
	w.Open()
	for i, f := range fs {
		if i > 0 {
			w.SP()
		}
		w.bw.WriteString(f)
	}
	if extra != "" {
		if len(fs) > 0 {
			w.SP()
		}
		w.bw.WriteString(extra)
	}
	w.Close()
}

// SeqSet writes a sequence set.
func (w *Writer) SeqSet(s SeqSet) { w.bw.WriteString(s.String()) }

func quotable(s string, utf bool) bool {
	ok, _ := scanQuoted(s, utf)
	return ok
}

// scanQuoted says in one pass whether s can be a quoted string (RFC 9051
// 4.3: no NUL, CR or LF; 8-bit text only under UTF8=ACCEPT and only as
// UTF-8), and whether it holds a quoted-special that needs a backslash.
func scanQuoted(s string, utf bool) (ok, escape bool) {
	if len(s) > maxQuoted {
		return false, false
	}
	eight := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c > '\\' && c < 0x80: // lower case and most punctuation
		case c == '"' || c == '\\':
			escape = true
		case c == 0 || c == '\r' || c == '\n':
			return false, false
		case c >= 0x80:
			if !utf {
				return false, false
			}
			eight = true
		}
	}
	return !eight || utf8.ValidString(s), escape
}

// quoted writes quote(s) without building it: FETCH ENVELOPE writes a
// dozen strings a message. escape says s holds a quoted-special.
func (w *Writer) quoted(s string, escape bool) {
	w.bw.WriteByte('"')
	for escape {
		i := strings.IndexAny(s, `"\`)
		if i < 0 {
			break
		}
		w.bw.WriteString(s[:i])
		w.bw.WriteByte('\\')
		w.bw.WriteByte(s[i])
		s = s[i+1:]
	}
	w.bw.WriteString(s)
	w.bw.WriteByte('"')
}

// quote returns s as a quoted string; s must be quotable.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isAtomText(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAstringChar(s[i]) {
			return false
		}
	}
	return true
}

// astringText formats s as an astring for the String methods: an atom when
// possible, else quoted, else a literal.
func astringText(s string) string {
	switch {
	case s != "" && isAtomText(s):
		return s
	case quotable(s, true):
		return quote(s)
	}
	return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
}
