package message

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// content sets p's MIME fields from h.
func (h *fields) content(p *Part, digest bool) {
	typ, sub, params, ok := parseContentType(h.get(fContentType))
	switch {
	case ok:
	case digest:
		// RFC 2046 5.1.5: in a digest, the default is message/rfc822.
		typ, sub, params = "message", "rfc822", nil
	default:
		// RFC 2045 5.2: the default, also for an invalid Content-Type.
		typ, sub, params = "text", "plain", []Param{{Name: "charset", Value: "us-ascii"}}
	}
	p.Type, p.Subtype, p.Params = typ, sub, params

	// RFC 2045 6.1: the encoding is a case-insensitive token, 7bit when absent.
	l := lexer{s: h.get(fContentTransferEncoding)}
	l.cfws()
	p.Encoding = strings.ToUpper(l.token())
	if p.Encoding == "" {
		p.Encoding = "7BIT"
	}
	p.ID = h.get(fContentID)
	p.Description = h.get(fContentDescription)
	p.MD5 = h.get(fContentMD5)
	p.Location = h.get(fContentLocation)

	// RFC 2183 2: disposition-type *(";" disposition-parm).
	l = lexer{s: h.get(fContentDisposition)}
	l.cfws()
	if d := l.token(); d != "" {
		p.Disposition = strings.ToLower(d)
		p.DispositionParams = parseParams(&l)
	}

	// RFC 3282 2: Language-Tag *("," Language-Tag), with CFWS.
	l = lexer{s: h.get(fContentLanguage)}
	for {
		l.cfws()
		if !l.more() {
			break
		}
		if t := l.token(); t != "" {
			p.Language = append(p.Language, t)
		} else {
			l.i++ // a comma, or junk
		}
	}
}

// parseContentType parses a Content-Type value (RFC 2045 5.1). ok is false
// if it has no valid type/subtype.
func parseContentType(v string) (typ, sub string, params []Param, ok bool) {
	l := lexer{s: v}
	l.cfws()
	typ = l.token()
	l.cfws()
	if typ == "" || !l.eat('/') {
		return "", "", nil, false
	}
	l.cfws()
	if sub = l.token(); sub == "" {
		return "", "", nil, false
	}
	return strings.ToLower(typ), strings.ToLower(sub), parseParams(&l), true
}

type rawParam struct{ name, value string }

// parseParams parses `*(";" attribute "=" value)` (RFC 2045 5.1) from l,
// tolerating junk between parameters, unquoted values with spaces or
// tspecials, and a missing closing quote. Names are lower-cased; RFC 2231
// sections are joined.
func parseParams(l *lexer) []Param {
	var raw []rawParam
	for {
		for l.more() && l.s[l.i] != ';' {
			switch l.s[l.i] {
			case '"':
				l.quoted()
			case '(':
				l.i = skipComment(l.s, l.i)
			default:
				l.i++
			}
		}
		if !l.eat(';') {
			break
		}
		l.cfws()
		name := l.token()
		l.cfws()
		if name == "" || !l.eat('=') {
			continue
		}
		l.cfws()
		var v string
		if l.more() && l.s[l.i] == '"' {
			v = l.quoted()
		} else {
			v = l.bareValue()
		}
		raw = append(raw, rawParam{strings.ToLower(name), v})
	}
	return joinParams(raw)
}

type section struct {
	n   int
	ext bool
	v   string
}

// joinParams keeps the first value of each name, except that RFC 2231
// sections (name*, name*0, name*1*, ...) are joined, decoded and preferred.
func joinParams(raw []rawParam) []Param {
	if len(raw) == 0 {
		return nil
	}
	var out []Param
	var sects map[int][]section
	var index map[string]int
	find := func(base string) (int, bool) {
		if index != nil {
			i, ok := index[base]
			return i, ok
		}
		for i := range out {
			if out[i].Name == base {
				return i, true
			}
		}
		if len(out) >= 8 {
			index = make(map[string]int, 2*len(out))
			for i := range out {
				index[out[i].Name] = i
			}
		}
		return 0, false
	}
	for _, r := range raw {
		base, n, ext := splitParamName(r.name)
		i, seen := find(base)
		if !seen {
			i = len(out)
			out = append(out, Param{Name: base})
			if index != nil {
				index[base] = i
			}
		}
		if n < 0 && !ext {
			if !seen {
				out[i].Value = r.value
			}
			continue
		}
		if sects == nil {
			sects = map[int][]section{}
		}
		sects[i] = append(sects[i], section{max(n, 0), ext, r.value})
	}
	for i, ss := range sects {
		out[i].Value = decode2231(ss)
	}
	return out
}

// splitParamName splits an RFC 2231 parameter name: "title*1*" is base
// "title", section 1, extended. n is -1 for a name without a section.
func splitParamName(name string) (base string, n int, ext bool) {
	if ext = strings.HasSuffix(name, "*"); ext {
		name = name[:len(name)-1]
	}
	if j := strings.LastIndexByte(name, '*'); j > 0 && len(name)-j-1 >= 1 && len(name)-j-1 <= 4 {
		if n, err := strconv.Atoi(name[j+1:]); err == nil && n >= 0 && name[j+1] != '+' {
			return name[:j], n, ext
		}
	}
	if ext && name == "" {
		return "*", -1, false
	}
	return name, -1, ext
}

// decode2231 joins the sections of one parameter in order and decodes
// them (RFC 2231 3, 4): extended sections are percent-encoded, and the first
// one names the charset, which is converted to UTF-8 (RFC 9051 7.5.2).
// With an unknown charset the bytes are kept as they are.
func decode2231(ss []section) string {
	slices.SortStableFunc(ss, func(a, b section) int { return a.n - b.n })
	var charset string
	var b []byte
	for k, s := range ss {
		if k > 0 && s.n == ss[k-1].n {
			continue // a repeated section: the first counts
		}
		v := s.v
		if !s.ext {
			b = append(b, v...)
			continue
		}
		if s.n == 0 {
			if a := strings.IndexByte(v, '\''); a >= 0 {
				if c := strings.IndexByte(v[a+1:], '\''); c >= 0 {
					charset, v = v[:a], v[a+1+c+1:]
				}
			}
		}
		b = percentDecode(b, v)
	}
	return toUTF8(charset, b)
}

func percentDecode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				dst = append(dst, byte(h))
				i += 2
				continue
			}
		}
		dst = append(dst, s[i])
	}
	return dst
}

// toUTF8 converts b from charset to UTF-8, or returns it unchanged if the
// charset is unknown or b is not valid in it.
func toUTF8(charset string, b []byte) string {
	switch strings.ToLower(charset) {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		return string(b)
	}
	// The WHATWG "replacement" encoding would turn everything into U+FFFD.
	if enc, err := htmlindex.Get(charset); err == nil && enc != encoding.Replacement {
		if out, err := enc.NewDecoder().Bytes(b); err == nil && utf8.Valid(out) {
			return string(out)
		}
	}
	return string(b)
}

// lexer walks a structured header value (RFC 5322 3.2, RFC 2045 5.1).
type lexer struct {
	s string
	i int
}

func (l *lexer) more() bool { return l.i < len(l.s) }

func (l *lexer) eat(c byte) bool {
	if l.i < len(l.s) && l.s[l.i] == c {
		l.i++
		return true
	}
	return false
}

// cfws skips white space and comments (RFC 5322 3.2.2).
func (l *lexer) cfws() {
	for l.i < len(l.s) {
		switch l.s[l.i] {
		case ' ', '\t', '\r', '\n':
			l.i++
		case '(':
			l.i = skipComment(l.s, l.i)
		default:
			return
		}
	}
}

// token reads an RFC 2045 5.1 token; 8-bit bytes are tolerated in it.
func (l *lexer) token() string {
	start := l.i
	for l.i < len(l.s) {
		c := l.s[l.i]
		if c <= ' ' || c == 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			break
		}
		l.i++
	}
	return l.s[start:l.i]
}

// quoted reads a quoted string (RFC 5322 3.2.4) at l.i and returns its
// content without quoting. An unterminated string runs to the end.
func (l *lexer) quoted() string {
	l.i++
	start := l.i
	for l.i < len(l.s) && l.s[l.i] != '"' && l.s[l.i] != '\\' {
		l.i++
	}
	if l.i < len(l.s) && l.s[l.i] == '"' {
		l.i++
		return l.s[start : l.i-1]
	}
	b := []byte(l.s[start:l.i])
	for l.i < len(l.s) {
		c := l.s[l.i]
		l.i++
		switch {
		case c == '"':
			return string(b)
		case c == '\\' && l.i < len(l.s):
			c = l.s[l.i]
			l.i++
		}
		b = append(b, c)
	}
	return string(b)
}

// bareValue reads an unquoted parameter value up to the next ";". Real
// mail puts spaces and tspecials in such values, so it takes them all, less
// a trailing comment and trailing white space.
func (l *lexer) bareValue() string {
	start := l.i
	for l.i < len(l.s) && l.s[l.i] != ';' {
		l.i++
	}
	v := l.s[start:l.i]
	if j := strings.Index(v, " ("); j >= 0 {
		v = v[:j]
	}
	return strings.TrimRight(v, " \t\r\n")
}

// skipComment returns the index just after the comment that starts at
// s[i] == '('. Comments nest; an unterminated one runs to the end.
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}
