package convert

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// DecodeHeader returns the text of a raw header value: line folds removed
// (RFC 5322 2.2.3) and RFC 2047 encoded words decoded to UTF-8 in any
// charset the x/text encodings know. White space between adjacent encoded
// words is dropped, and adjacent words of one charset are decoded together,
// so a character split across two words survives. Words in an unknown
// charset, or that do not decode, stay as written. Unencoded 8-bit text is
// taken as UTF-8 (RFC 6532) when valid, else as windows-1252.
func DecodeHeader(raw string) string {
	raw = unfold(raw)
	if !strings.Contains(raw, "=?") {
		return plainText(raw)
	}
	var b strings.Builder
	b.Grow(len(raw))
	var (
		pending    bool
		cs         string
		data       []byte
		start, end int // raw[start:end] holds the pending words as written
	)
	flush := func() {
		if !pending {
			return
		}
		if _, known := lookupCharset(cs); known {
			b.WriteString(ToUTF8(cs, data))
		} else {
			b.WriteString(plainText(raw[start:end]))
		}
		pending, data = false, data[:0]
	}
	i := 0
	for i < len(raw) {
		j := strings.Index(raw[i:], "=?")
		if j < 0 {
			break
		}
		at := i + j
		wcs, wdata, n, ok := encodedWord(raw[at:])
		if !ok {
			flush()
			b.WriteString(plainText(raw[i : at+2]))
			i = at + 2
			continue
		}
		gap := raw[i:at]
		if !pending || strings.Trim(gap, " \t") != "" {
			flush()
			b.WriteString(plainText(gap))
		} else if !strings.EqualFold(cs, wcs) {
			flush()
		}
		if !pending {
			pending, cs, start = true, wcs, at
		}
		data = append(data, wdata...)
		end = at + n
		i = end
	}
	flush()
	b.WriteString(plainText(raw[i:]))
	return b.String()
}

// encodedWord parses the RFC 2047 encoded word at the start of s:
// "=?" charset "?" ("B" / "Q") "?" encoded-text "?=". It returns the
// charset, the decoded bytes and the word's length.
func encodedWord(s string) (cs string, data []byte, n int, ok bool) {
	if !strings.HasPrefix(s, "=?") {
		return "", nil, 0, false
	}
	q := strings.IndexByte(s[2:], '?')
	if q <= 0 || q > 64 || len(s) < 2+q+3 || s[2+q+2] != '?' {
		return "", nil, 0, false
	}
	cs = s[2 : 2+q]
	if strings.ContainsAny(cs, " \t\r\n\"()<>@,;:/[]=") {
		return "", nil, 0, false
	}
	enc := s[2+q+1]
	text := s[2+q+3:]
	k := strings.Index(text, "?=")
	if k < 0 || strings.ContainsAny(text[:k], " \t\r\n") {
		return "", nil, 0, false
	}
	text, n = text[:k], 2+q+3+k+2
	switch enc {
	case 'B', 'b':
		text = strings.TrimRight(text, "=")
		d, err := base64.RawStdEncoding.DecodeString(text)
		if err != nil {
			return "", nil, 0, false
		}
		return cs, d, n, true
	case 'Q', 'q':
		return cs, decodeQ(text), n, true
	}
	return "", nil, 0, false
}

// decodeQ undoes the "Q" encoding (RFC 2047 4.2): "_" is a space, "=XX" a
// byte; a stray "=" stays as it is.
func decodeQ(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// unfold removes the line breaks of folded header lines; any other line
// break becomes a space.
func unfold(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\r' && c != '\n' {
			b.WriteByte(c)
			continue
		}
		if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		if i+1 < len(s) && (s[i+1] == ' ' || s[i+1] == '\t') {
			continue
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// plainText is unencoded header text: UTF-8 if valid, else windows-1252.
func plainText(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return ToUTF8("", []byte(s))
}
