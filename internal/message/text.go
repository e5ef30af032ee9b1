package message

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// charset returns the decoding of a MIME charset name, or nil for UTF-8,
// US-ASCII and names no table knows (the bytes are then taken as they
// are). Labels follow the WHATWG table, as mail readers do: ISO-8859-1 is
// read as windows-1252, a superset.
func charset(name string) encoding.Encoding {
	name = strings.Trim(strings.ToLower(strings.TrimSpace(name)), `"`)
	switch name {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		return nil
	}
	if e, err := htmlindex.Get(name); err == nil {
		return e
	}
	if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
		return e
	}
	return nil
}

// ToUTF8 converts b from the named charset to UTF-8. Bytes that do not
// decode become U+FFFD; an unknown charset leaves valid UTF-8 as it is.
func ToUTF8(cs string, b []byte) string {
	if e := charset(cs); e != nil {
		if out, err := e.NewDecoder().Bytes(b); err == nil {
			return string(out)
		}
	}
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// DecodeHeader decodes the RFC 2047 encoded words of a header value in any
// charset ToUTF8 knows; words it cannot decode stay as they are.
func DecodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		if utf8.ValidString(s) {
			return s
		}
		return ToUTF8("", []byte(s)) // 8-bit header: RFC 6532 says UTF-8
	}
	d := mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		e := charset(cs)
		if e == nil {
			if n := strings.ToLower(cs); n == "utf-8" || n == "us-ascii" || n == "utf8" {
				return r, nil
			}
			return nil, errors.New("unknown charset " + cs)
		}
		return e.NewDecoder().Reader(r), nil
	}}
	out, err := d.DecodeHeader(s)
	if err != nil {
		return s
	}
	return out
}

// Field is one header field, unfolded (RFC 5322 2.2.3).
type Field struct{ Name, Value string }

// HeaderFields parses a raw header block into its fields, in order.
// Lines that are neither fields nor continuations are skipped.
func HeaderFields(raw []byte) []Field {
	var out []Field
	for _, line := range bytes.Split(raw, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(out); n > 0 {
				out[n-1].Value += " " + strings.TrimSpace(string(line))
			}
			continue
		}
		name, val, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		out = append(out, Field{Name: string(bytes.TrimSpace(name)), Value: strings.TrimSpace(string(val))})
	}
	return out
}

// ErrNotText is returned by PartText for parts without text content.
var ErrNotText = errors.New("message: part is not text")

// PartText returns the decoded content of a leaf text part: its transfer
// encoding undone, then its charset converted to UTF-8. At most max bytes
// of encoded content are read (0: no bound).
func PartText(r io.ReaderAt, p *Part, max int64) (string, error) {
	if p.IsMultipart() || p.IsMessage() {
		return "", ErrNotText
	}
	n := p.End - p.BodyStart
	if max > 0 && n > max {
		n = max
	}
	if n <= 0 {
		return "", nil
	}
	src, ok := TransferDecoder(p.Encoding, io.NewSectionReader(r, p.BodyStart, n))
	if !ok {
		src = io.NewSectionReader(r, p.BodyStart, n)
	}
	b, err := io.ReadAll(src)
	if err != nil && len(b) == 0 {
		// A broken encoding: search the raw bytes rather than nothing.
		raw := make([]byte, n)
		k, _ := r.ReadAt(raw, p.BodyStart)
		b = raw[:k]
	}
	return ToUTF8(p.Param("charset"), b), nil
}

// TransferDecoder returns a reader that undoes a content transfer
// encoding (RFC 2045 6), or false for one it does not know (x-uuencode
// and other private ones). Base64 is decoded leniently: characters
// outside its alphabet are skipped, as mail readers do.
func TransferDecoder(encoding string, r io.Reader) (io.Reader, bool) {
	switch strings.ToUpper(encoding) {
	case "", "7BIT", "8BIT", "BINARY":
		return r, true
	case "BASE64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r}), true
	case "QUOTED-PRINTABLE":
		return quotedprintable.NewReader(r), true
	}
	return nil, false
}

// base64Filter drops everything but the base64 alphabet, as lenient mail
// readers do (line breaks, spaces, stray characters).
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
