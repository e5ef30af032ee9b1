package convert

import (
	"bytes"
	"io"
	"strings"

	"github.com/quiremail/quire/internal/message"
)

// The text of a message as IMAP SEARCH reads it. SEARCH and the indexer
// both use these functions, so that an index built from their text holds
// everything SEARCH would match (package search's superset promise).

// maxHeader bounds the header bytes read for HEADER and TEXT.
const maxHeader = 1 << 20

// Field is one header field: its name as written and its unfolded value.
type Field struct{ Name, Value string }

// HeaderFields parses a raw header block (RFC 5322 2.2) into its fields,
// stopping at the first empty line. A continuation line joins the field
// before it, its line break removed (RFC 5322 2.2.3). Lines that are
// neither (an mbox "From " line, garbage) are skipped with their
// continuations. LF-only line ends are accepted.
func HeaderFields(raw []byte) []Field {
	var out []Field
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
				out[len(out)-1].Value += string(line)
			}
			continue
		}
		name, val, ok := bytes.Cut(line, []byte(":"))
		name = bytes.TrimRight(name, " \t")
		if cont = ok && validFieldName(name); cont {
			out = append(out, Field{string(name), string(val)})
		}
	}
	for i := range out {
		out[i].Value = strings.Trim(out[i].Value, " \t\r\n")
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
	for _, f := range HeaderFields(raw) {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// AddressText writes an address list back as text, encoded words decoded.
func AddressText(as []message.Address) string {
	var b strings.Builder
	for _, a := range as {
		switch {
		case a.Host == "" && a.Mailbox == "": // end of group
			b.WriteString("; ")
		case a.Host == "": // start of group
			b.WriteString(DecodeHeader(a.Mailbox) + ": ")
		default:
			if a.Name != "" {
				b.WriteString(DecodeHeader(a.Name) + " ")
			}
			b.WriteString("<" + AddrSpec(a) + "> ")
		}
	}
	return strings.TrimSuffix(b.String(), " ")
}

// AddrSpec is "mailbox@host", or the mailbox alone when the host is
// missing.
func AddrSpec(a message.Address) string {
	if a.Host == "" || a.Host == message.MissingHost {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// ReadHeader returns the raw header block of p.
func ReadHeader(body io.ReaderAt, p *message.Part) []byte {
	n := min(p.BodyStart-p.HeaderStart, maxHeader)
	if n <= 0 || p.HeaderStart < 0 {
		return nil
	}
	buf := make([]byte, n)
	k, _ := body.ReadAt(buf, p.HeaderStart)
	return buf[:k]
}

func writeFields(b *strings.Builder, fs []Field) {
	for _, f := range fs {
		b.WriteString(f.Name + ": " + DecodeHeader(f.Value) + "\n")
	}
}

// SearchBody returns the searchable text of the body of the message whose
// root is p: the decoded text of its text/* leaves (and other message/*
// leaves), text/html reduced to its visible text, and for each
// encapsulated message its decoded header fields and body text, each
// followed by a line break. Non-text leaves (attachments) are skipped.
// The result is at most about MaxText bytes.
func SearchBody(body io.ReaderAt, p *message.Part) string {
	var b strings.Builder
	EachSearchBody(body, p, func(piece string) bool {
		b.WriteString(piece)
		return true
	})
	return b.String()
}

// EachSearchBody calls fn with the pieces of SearchBody(body, p) in
// order (a part's text, then its line break), until fn returns false: SEARCH
// stops at the first piece that holds what it looks for, before the
// costlier ones after it (the HTML of a multipart/alternative).
func EachSearchBody(body io.ReaderAt, p *message.Part, fn func(piece string) bool) {
	n := 0 // bytes given so far
	stop := false
	emit := func(s string) {
		if !stop {
			n += len(s)
			stop = !fn(s)
		}
	}
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		if n >= MaxText || stop {
			return
		}
		switch {
		case p.IsMultipart() && len(p.Parts) == 0:
			// No boundary found: the body is opaque text.
			raw := make([]byte, max(min(p.End-p.BodyStart, int64(MaxText-n)), 0))
			k, _ := body.ReadAt(raw, p.BodyStart)
			emit(ToUTF8("", raw[:k]))
			emit("\n")
		case p.IsMultipart():
			for _, c := range p.Parts {
				walk(c)
			}
		case p.IsMessage():
			inner := p.Parts[0]
			var b strings.Builder
			writeFields(&b, HeaderFields(ReadHeader(body, inner)))
			emit(b.String())
			emit("\n")
			walk(inner)
		case p.Type == "text" || p.Type == "message":
			t, err := PartText(body, p)
			if err != nil {
				return
			}
			if p.Type == "text" && p.Subtype == "html" {
				t = HTMLText(t)
			}
			emit(t[:min(len(t), MaxText-n)])
			emit("\n")
		}
	}
	walk(p)
}

// SearchHeader returns the text of a message's header as SEARCH TEXT
// reads it (RFC 9051 6.4.4): each field of the top header decoded, one a
// line, then the MIME header fields of every body part. Encapsulated
// messages' headers are body text (SearchBody).
func SearchHeader(body io.ReaderAt, root *message.Part) string {
	var b strings.Builder
	writeFields(&b, HeaderFields(ReadHeader(body, root)))
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		for _, c := range p.Parts {
			if b.Len() < MaxText && c.Envelope == nil {
				writeFields(&b, HeaderFields(ReadHeader(body, c)))
			}
			walk(c)
		}
	}
	walk(root)
	return b.String()
}
