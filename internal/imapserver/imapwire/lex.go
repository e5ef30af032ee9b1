package imapwire

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Character classes of RFC 9051 9 (formal syntax).
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isAtomChar: ATOM-CHAR, any CHAR except atom-specials.
func isAtomChar(c byte) bool {
	return c > ' ' && c < 0x7f && strings.IndexByte(`(){%*"\]`, c) < 0
}

func isAstringChar(c byte) bool { return isAtomChar(c) || c == ']' }
func isTagChar(c byte) bool     { return isAstringChar(c) && c != '+' }
func isListChar(c byte) bool    { return isAtomChar(c) || c == '%' || c == '*' || c == ']' }

// isKeywordChar is what command, fetch, search and option names are made of.
func isKeywordChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || isDigit(c) || c == '.' || c == '-' || c == '=' || c == '_'
}

func (r *Reader) eol() bool { return r.pos >= len(r.line) }

func (r *Reader) peek() byte {
	if r.eol() {
		return 0
	}
	return r.line[r.pos]
}

func (r *Reader) take(c byte) bool {
	if r.peek() == c && !r.eol() {
		r.pos++
		return true
	}
	return false
}

// takeFold consumes s, compared case-insensitively, if it comes next.
func (r *Reader) takeFold(s string) bool {
	if len(r.line)-r.pos >= len(s) && strings.EqualFold(string(r.line[r.pos:r.pos+len(s)]), s) {
		r.pos += len(s)
		return true
	}
	return false
}

// here describes the position for error messages.
func (r *Reader) here() string {
	if r.eol() {
		return "end of line"
	}
	rest := r.line[r.pos:]
	if len(rest) > 16 {
		return strconv.Quote(string(rest[:16])) + "..."
	}
	return strconv.Quote(string(rest))
}

func (r *Reader) expect(c byte, what string) {
	if !r.take(c) {
		r.fail("expected %q (%s) at %s", c, what, r.here())
	}
}

// sp consumes one SP; ctx says where, as in "after tag".
func (r *Reader) sp(ctx string) {
	if !r.take(' ') {
		r.fail("expected SP %s", ctx)
	}
}

func (r *Reader) end() {
	if !r.eol() {
		r.fail("expected CRLF at %s", r.here())
	}
}

func (r *Reader) run(class func(byte) bool) string {
	start := r.pos
	for r.pos < len(r.line) && class(r.line[r.pos]) {
		r.pos++
	}
	return string(r.line[start:r.pos])
}

// keyword reads a name (command, fetch attribute, search key) upper-cased.
func (r *Reader) keyword(what string) string {
	s := r.run(isKeywordChar)
	if s == "" {
		r.fail("expected %s at %s", what, r.here())
	}
	return strings.ToUpper(s)
}

func (r *Reader) atom(what string) string {
	s := r.run(isAtomChar)
	if s == "" {
		r.fail("expected %s at %s", what, r.here())
	}
	return s
}

// quoted reads a quoted string (RFC 9051 4.3); the opening quote is next.
func (r *Reader) quoted(what string) string {
	r.pos++
	var b []byte
	for {
		if r.eol() {
			r.fail("unterminated quoted string for %s", what)
		}
		c := r.line[r.pos]
		r.pos++
		switch c {
		case '"':
			return string(b)
		case '\\':
			if r.eol() || (r.line[r.pos] != '\\' && r.line[r.pos] != '"') {
				r.fail(`invalid escape in quoted string for %s: only \\ and \" are allowed`, what)
			}
			c = r.line[r.pos]
			r.pos++
		case 0:
			r.fail("NUL in quoted string for %s", what)
		}
		b = append(b, c)
	}
}

// string reads a string: quoted or literal.
func (r *Reader) string(what string) string {
	switch r.peek() {
	case '"':
		return r.quoted(what)
	case '{':
		return string(r.literal())
	}
	r.fail("expected string for %s at %s", what, r.here())
	return ""
}

// astring reads an atom (with "]"), quoted string or literal.
func (r *Reader) astring(what string) string {
	switch r.peek() {
	case '"', '{':
		return r.string(what)
	}
	s := r.run(isAstringChar)
	if s == "" {
		r.fail("expected %s at %s", what, r.here())
	}
	return s
}

// nstring reads a string or NIL; ok is false for NIL.
func (r *Reader) nstring(what string) (s string, ok bool) {
	if r.takeFold("NIL") {
		return "", false
	}
	return r.string(what), true
}

func (r *Reader) digits(what string) string {
	s := r.run(isDigit)
	if s == "" {
		r.fail("expected %s at %s", what, r.here())
	}
	return s
}

// number reads a number (32-bit unsigned, RFC 9051 9).
func (r *Reader) number(what string) uint32 {
	n, err := strconv.ParseUint(r.digits(what), 10, 32)
	if err != nil {
		r.fail("%s out of range", what)
	}
	return uint32(n)
}

func (r *Reader) nzNumber(what string) uint32 {
	n := r.number(what)
	if n == 0 {
		r.fail("%s must not be zero", what)
	}
	return n
}

// number64 reads a number64, as mod-sequences are (RFC 9051 9, RFC 7162 7):
// at most 2^63-1.
func (r *Reader) number64(what string) uint64 {
	n, err := strconv.ParseUint(r.digits(what), 10, 63)
	if err != nil {
		r.fail("%s out of range", what)
	}
	return n
}

// mailbox reads a mailbox name and returns it in UTF-8: "INBOX" in any case
// is INBOX (RFC 9051 5.1); otherwise modified UTF-7 is decoded, or, after
// UTF8=ACCEPT, raw UTF-8 is taken as it is (RFC 6855 3).
func (r *Reader) mailbox(what string) string {
	s := r.astring(what)
	return r.decodeMailbox(s, what, false)
}

func (r *Reader) decodeMailbox(s, what string, pattern bool) string {
	if !pattern && strings.EqualFold(s, "INBOX") {
		return "INBOX"
	}
	if r.utf8 {
		if !utf8.ValidString(s) {
			r.fail("%s is not valid UTF-8", what)
		}
		return s
	}
	d, err := DecodeMailbox(s)
	if err != nil {
		if r.cmd == "CREATE" || r.cmd == "RENAME" || r.cmd == "APPEND" {
			r.fail("%s: %v", what, err) // never store such a name
		}
		// Elsewhere take the name as sent: the client gets NO for a
		// mailbox that does not exist, as from Dovecot, rather than BAD
		// for a name that is syntactically an astring.
		return s
	}
	return d
}

// parenList parses "(" item *(SP item) ")", or "()" if empty is true.
func (r *Reader) parenList(what string, empty bool, item func()) {
	r.expect('(', "start of "+what)
	if r.take(')') {
		if !empty {
			r.fail("empty %s", what)
		}
		return
	}
	for {
		item()
		if r.take(')') {
			return
		}
		r.sp("or \")\" in " + what)
	}
}

// flag reads a flag: "\" atom or a keyword atom (RFC 9051 2.3.2). With
// star, \* is accepted as in PERMANENTFLAGS.
func (r *Reader) flag() string {
	if r.take('\\') {
		return `\` + r.atom("flag name after \\")
	}
	return r.atom("flag")
}

func (r *Reader) flagList() []string {
	fs := []string{}
	r.parenList("flag list", true, func() { fs = append(fs, r.flag()) })
	return fs
}
