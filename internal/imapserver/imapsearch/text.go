package imapsearch

import (
	"bytes"
	"strings"
)

// maxHeader bounds the header bytes read for HEADER and TEXT.
const maxHeader = 1 << 20

// field is one header field: its name as written and its unfolded value.
type field struct{ name, value string }

// headerFields parses a raw header block (RFC 5322 2.2) into its fields,
// stopping at the first empty line. A continuation line joins the field
// before it, its line break removed (RFC 5322 2.2.3). Lines that are
// neither (an mbox "From " line, garbage) are skipped with their
// continuations. LF-only line ends are accepted.
func headerFields(raw []byte) []field {
	var out []field
	cont := false // the previous line started a field
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cont {
				out[len(out)-1].value += string(line)
			}
			continue
		}
		name, val, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if cont = ok && validFieldName(name); cont {
			out = append(out, field{string(name), string(val)})
		}
	}
	for i := range out {
		out[i].value = strings.Trim(out[i].value, " \t\r\n")
	}
	return out
}

// validFieldName reports whether b is an RFC 5322 field name: printable
// US-ASCII other than colon.
func validFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}

// HeaderValues returns the unfolded, trimmed values of every field called
// name (compared case-insensitively) in a raw header block, in order. The
// values are raw: use DecodeHeader for their text.
func HeaderValues(raw []byte, name string) []string {
	var out []string
	for _, f := range headerFields(raw) {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value)
		}
	}
	return out
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
