package convert

import (
	"bufio"
	"bytes"
	"errors"
	"html"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"

	"github.com/quiremail/quire/internal/message"
)

// MaxText bounds the decoded text PartText returns, and the text of one
// message that BODY and TEXT search.
const MaxText = 16 << 20

// ErrNotLeaf is returned by PartText for a multipart or an encapsulated
// message, which have no text of their own.
var ErrNotLeaf = errors.New("convert: part is a container, not a leaf")

// lookupCharset returns the decoder of a MIME charset name. UTF-8 and
// US-ASCII give a nil encoding and true; names no table knows give false.
// Names follow the WHATWG table first, as mail readers do (ISO-8859-1 is
// read as its superset windows-1252), then the IANA registry.
func lookupCharset(name string) (encoding.Encoding, bool) {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`))
	if i := strings.IndexByte(name, '*'); i >= 0 { // RFC 2231 language suffix
		name = name[:i]
	}
	switch name {
	case "", "utf-8", "utf8", "us-ascii", "ascii", "ansi_x3.4-1968", "us":
		return nil, true
	}
	if e, err := htmlindex.Get(name); err == nil && e != nil {
		return e, true
	}
	if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
		return e, true
	}
	return nil, false
}

// ToUTF8 converts b from the named charset. UTF-8 and US-ASCII text that
// is not valid UTF-8 is read as windows-1252 (undeclared 8-bit mail is
// usually Western European). An unknown charset, or one whose decoder
// fails, leaves the bytes as they are, invalid sequences replaced.
func ToUTF8(cs string, b []byte) string {
	e, known := lookupCharset(cs)
	if e != nil {
		if out, err := e.NewDecoder().Bytes(b); err == nil {
			return string(out)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	if known {
		if out, err := charmap.Windows1252.NewDecoder().Bytes(b); err == nil {
			return string(out)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// PartText returns the content of a leaf part (normally text/*) as UTF-8:
// the Content-Transfer-Encoding undone (base64 leniently, quoted-printable),
// then the charset parameter applied. An unknown transfer encoding or
// charset leaves the bytes as they are. At most MaxText bytes of text are
// returned. body holds the raw message p belongs to.
func PartText(body io.ReaderAt, p *message.Part) (string, error) {
	if p == nil || p.IsMultipart() || p.IsMessage() {
		return "", ErrNotLeaf
	}
	b, err := decodeBody(body, p, MaxText)
	if err != nil {
		return "", err
	}
	s := ToUTF8(p.Param("charset"), b)
	if len(s) > MaxText {
		s = strings.ToValidUTF8(s[:MaxText], "")
	}
	return s, nil
}

// decodeBody returns at most limit bytes of a leaf part's body with its
// Content-Transfer-Encoding undone (quoted-printable leniently, the others
// through message.TransferDecoder; an unknown one leaves the bytes as they
// are). A broken encoding that yields nothing gives the raw bytes, which
// are better than nothing.
func decodeBody(body io.ReaderAt, p *message.Part, limit int64) ([]byte, error) {
	n := p.End - p.BodyStart
	if n <= 0 || p.BodyStart < 0 {
		return nil, nil
	}
	raw := io.NewSectionReader(body, p.BodyStart, n)
	var buf bytes.Buffer
	// Decoding never makes more than the encoded bytes (quoted-printable
	// and base64 shrink), so one allocation holds it: growing the buffer
	// as it filled was a sixth of a phrase search's CPU (copies and
	// allocations of the survivors' text parts).
	buf.Grow(int(min(n, limit)) + bytes.MinRead)
	var err error
	if strings.EqualFold(p.Encoding, "quoted-printable") {
		err = decodeQP(&buf, raw, int(limit))
	} else {
		src, ok := message.TransferDecoder(p.Encoding, raw)
		if !ok {
			src = raw
		}
		_, err = io.Copy(&buf, io.LimitReader(src, limit))
	}
	if b := buf.Bytes(); err == nil || len(b) > 0 {
		return b, nil
	}
	return io.ReadAll(io.NewSectionReader(body, p.BodyStart, min(n, limit)))
}

// decodeQP undoes quoted-printable (RFC 2045 6.7) into dst, leniently:
// "=" ending a line (after optional white space) joins it to the next,
// "=XX" with hex digits of either case is a byte, white space ending a
// line goes, and anything else, "=" and control bytes included, stays as
// it is. It stops after limit bytes.
func decodeQP(dst *bytes.Buffer, r io.Reader, limit int) error {
	br := bufio.NewReaderSize(r, 32<<10)
	for dst.Len() < limit {
		line, err := br.ReadSlice('\n')
		text, eol := line, []byte(nil)
		if bytes.HasSuffix(text, []byte("\n")) {
			text, eol = text[:len(text)-1], []byte("\n")
			if bytes.HasSuffix(text, []byte("\r")) {
				text, eol = text[:len(text)-1], []byte("\r\n")
			}
		}
		if eol != nil || err == io.EOF { // a whole line
			text = bytes.TrimRight(text, " \t")
			if n := len(text); n > 0 && text[n-1] == '=' {
				text, eol = text[:n-1], nil
			}
		}
		for i := 0; i < len(text); i++ {
			if c := text[i]; c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]) {
				dst.WriteByte(unhex(text[i+1])<<4 | unhex(text[i+2]))
				i += 2
			} else {
				dst.WriteByte(c)
			}
		}
		dst.Write(eol)
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			return nil
		default:
			return err
		}
	}
	dst.Truncate(limit)
	return nil
}

// HTMLText reduces an HTML document to its visible text for searching:
// tags, comments, and the content of script and style elements removed,
// character references decoded, white space collapsed. Inline tags
// vanish ("<b>bold</b>er" is "bolder"); other tags separate words.
func HTMLText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			if j := strings.Index(s[4:], "-->"); j >= 0 {
				s = s[4+j+3:]
			} else {
				s = ""
			}
			b.WriteByte(' ')
			continue
		}
		name := tagName(s)
		if name == "script" || name == "style" {
			if j := indexFold(s, "</"+name); j >= 0 {
				s = s[j+2+len(name):]
			} else {
				s = ""
			}
		}
		j := strings.IndexByte(s, '>')
		if j < 0 {
			break
		}
		s = s[j+1:]
		if !inlineTags[name] {
			b.WriteByte(' ')
		}
	}
	t := strings.ReplaceAll(html.UnescapeString(b.String()), "\u00a0", " ")
	return strings.Join(strings.Fields(t), " ")
}

// tagName returns the lower-cased element name of the tag at the start of
// s ("<b>", "</B >", "<br/>" give b, b, br).
func tagName(s string) string {
	i := 1
	if i < len(s) && s[i] == '/' {
		i++
	}
	j := i
	for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
		j++
	}
	return strings.ToLower(s[i:j])
}

// inlineTags are the elements that do not separate words.
var inlineTags = map[string]bool{
	"a": true, "abbr": true, "b": true, "bdi": true, "bdo": true, "big": true, "cite": true,
	"code": true, "del": true, "dfn": true, "em": true, "font": true, "i": true, "ins": true,
	"kbd": true, "mark": true, "q": true, "s": true, "samp": true, "small": true, "span": true,
	"strike": true, "strong": true, "sub": true, "sup": true, "tt": true, "u": true, "var": true,
	"wbr": true,
}

// indexFold is strings.Index for an ASCII needle, ignoring ASCII case.
func indexFold(s, needle string) int {
	for i := 0; i+len(needle) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}
