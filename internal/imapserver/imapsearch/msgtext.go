package imapsearch

import (
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
)

// structureOf returns m's MIME structure, scanning its body when the
// session has none.
func structureOf(m Message) (*message.Part, error) {
	if p := m.Structure(); p != nil {
		return p, nil
	}
	body, err := m.Body()
	if err != nil {
		return nil, err
	}
	return scanBody(body, m.Size())
}

func scanBody(body io.ReaderAt, size int64) (*message.Part, error) {
	if size <= 0 {
		size = 1 << 62
	}
	return message.Scan(io.NewSectionReader(body, 0, size), message.Limits{})
}

// envelopeOf returns m's envelope, or an empty one; SORT and THREAD use
// it and treat a message they cannot read as one without header fields.
func envelopeOf(m Message) *message.Envelope {
	if p, err := structureOf(m); err == nil && p != nil && p.Envelope != nil {
		return p.Envelope
	}
	return &message.Envelope{}
}

// SentDate is the sent date of RFC 5256 2.2: the Date: field, or the
// internal date when the field is missing or unreadable.
func SentDate(m Message) time.Time {
	if t, ok := parseDate(envelopeOf(m).Date); ok {
		return t
	}
	return m.InternalDate()
}

// parseDate parses an RFC 5322 date-time tolerantly: comments, extra
// white space and a missing day of week or seconds are accepted.
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	if t, err := netmail.ParseDate(s); err == nil {
		return t, true
	}
	// Drop comments (as "(CEST)") and collapse white space, then retry.
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	s = strings.Join(strings.Fields(b.String()), " ")
	if t, err := netmail.ParseDate(s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// part is the message's structure for this evaluation.
func (e *evaluator) part() (*message.Part, error) {
	if !e.scanned {
		if e.structure = e.m.Structure(); e.structure == nil {
			body, err := e.openBody()
			if err != nil {
				return nil, err
			}
			if e.structure, err = scanBody(body, e.m.Size()); err != nil {
				return nil, err
			}
		}
		e.scanned = true
	}
	return e.structure, nil
}

func (e *evaluator) envelope() (*message.Envelope, error) {
	p, err := e.part()
	if err != nil {
		return nil, err
	}
	if p.Envelope == nil {
		return &message.Envelope{}, nil
	}
	return p.Envelope, nil
}

func (e *evaluator) openBody() (io.ReaderAt, error) {
	if !e.opened {
		e.body, e.bodyErr = e.m.Body()
		e.opened = true
	}
	return e.body, e.bodyErr
}

// envelopeText is the decoded text of the envelope's subject or of one of
// its address lists: display names and addresses, "Name <box@host>".
func (e *evaluator) envelopeText(name string) (string, error) {
	env, err := e.envelope()
	if err != nil {
		return "", err
	}
	var as []message.Address
	switch name {
	case "SUBJECT":
		return convert.DecodeHeader(env.Subject), nil
	case "FROM":
		as = env.From
	case "TO":
		as = env.To
	case "CC":
		as = env.Cc
	case "BCC":
		as = env.Bcc
	}
	return addressText(as), nil
}

// addressText writes an address list back as text, encoded words decoded.
func addressText(as []message.Address) string {
	var b strings.Builder
	for _, a := range as {
		switch {
		case a.Host == "" && a.Mailbox == "": // end of group
			b.WriteString("; ")
		case a.Host == "": // start of group
			b.WriteString(convert.DecodeHeader(a.Mailbox) + ": ")
		default:
			if a.Name != "" {
				b.WriteString(convert.DecodeHeader(a.Name) + " ")
			}
			b.WriteString("<" + addrSpec(a) + "> ")
		}
	}
	return strings.TrimSuffix(b.String(), " ")
}

// addrSpec is "mailbox@host", or the mailbox alone when the host is
// missing.
func addrSpec(a message.Address) string {
	if a.Host == "" || a.Host == message.MissingHost {
		return a.Mailbox
	}
	return a.Mailbox + "@" + a.Host
}

// readHeader returns the raw header block of p.
func readHeader(body io.ReaderAt, p *message.Part) []byte {
	n := min(p.BodyStart-p.HeaderStart, maxHeader)
	if n <= 0 || p.HeaderStart < 0 {
		return nil
	}
	buf := make([]byte, n)
	k, _ := body.ReadAt(buf, p.HeaderStart)
	return buf[:k]
}

// headerFields returns the fields of the message's header.
func (e *evaluator) headerFields() ([]field, error) {
	if !e.fieldsDone {
		p, err := e.part()
		if err != nil {
			return nil, err
		}
		body, err := e.openBody()
		if err != nil {
			return nil, err
		}
		e.fields = headerFields(readHeader(body, p))
		e.foldedField = make([]string, len(e.fields))
		e.fieldsDone = true
	}
	return e.fields, nil
}

// matchHeader is HEADER field value: the value in one of the decoded
// fields called field; an empty value matches any message with the field.
func (e *evaluator) matchHeader(name, value string) (bool, error) {
	fs, err := e.headerFields()
	if err != nil {
		return false, err
	}
	needle := fold(value)
	for i, f := range fs {
		if !strings.EqualFold(f.name, name) {
			continue
		}
		if value == "" {
			return true, nil
		}
		if e.foldedField[i] == "" {
			e.foldedField[i] = fold(convert.DecodeHeader(f.value))
		}
		if strings.Contains(e.foldedField[i], needle) {
			return true, nil
		}
	}
	return false, nil
}

// headerText is the folded text of the whole header, one decoded field a
// line.
func (e *evaluator) headerText() (string, error) {
	if e.header == nil {
		fs, err := e.headerFields()
		if err != nil {
			return "", err
		}
		var b strings.Builder
		writeFields(&b, fs)
		// The MIME header fields of body parts count as header too
		// (RFC 9051 6.4.4 TEXT); encapsulated messages' headers are in
		// the body text.
		p, _ := e.part()
		var walk func(p *message.Part)
		walk = func(p *message.Part) {
			for _, c := range p.Parts {
				if b.Len() < convert.MaxText && c.Envelope == nil {
					writeFields(&b, headerFields(readHeader(e.body, c)))
				}
				walk(c)
			}
		}
		walk(p)
		s := fold(b.String())
		e.header = &s
	}
	return *e.header, nil
}

func writeFields(b *strings.Builder, fs []field) {
	for _, f := range fs {
		b.WriteString(f.name + ": " + convert.DecodeHeader(f.value) + "\n")
	}
}

// bodyText is the folded text of the body: every text leaf decoded, HTML
// reduced to its text, and encapsulated messages' headers and text.
func (e *evaluator) bodyText() (string, error) {
	if e.text == nil {
		p, err := e.part()
		if err != nil {
			return "", err
		}
		body, err := e.openBody()
		if err != nil {
			return "", err
		}
		s := fold(BodyText(body, p))
		e.text = &s
	}
	return *e.text, nil
}

// attachmentText is the folded text of the attachments, through
// Context.Attachments; "" without it or without attachments.
func (e *evaluator) attachmentText() (string, error) {
	if e.attachments == nil {
		s := ""
		p, err := e.part()
		if err != nil {
			return "", err
		}
		if e.c.Attachments != nil && convert.HasAttachments(p) {
			body, err := e.openBody()
			if err != nil {
				return "", err
			}
			raw := make([]byte, max(e.m.Size(), 0))
			n, err := body.ReadAt(raw, 0)
			if n < len(raw) && err != nil {
				return "", fmt.Errorf("imapsearch: read the message for its attachments: %w", err)
			}
			s = fold(e.c.Attachments(raw[:n], p))
		}
		e.attachments = &s
	}
	return *e.attachments, nil
}

// BodyText returns the searchable text of the body of the message whose
// root is p: the decoded text of its text/* leaves (and other message/*
// leaves), text/html reduced to its visible text, and for each
// encapsulated message its decoded header fields and body text, each
// followed by a line break. Non-text leaves (attachments) are skipped.
// The result is at most about convert.MaxText bytes.
func BodyText(body io.ReaderAt, p *message.Part) string {
	var b strings.Builder
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		if b.Len() >= convert.MaxText {
			return
		}
		switch {
		case p.IsMultipart() && len(p.Parts) == 0:
			// No boundary found: the body is opaque text.
			raw := make([]byte, max(min(p.End-p.BodyStart, int64(convert.MaxText-b.Len())), 0))
			k, _ := body.ReadAt(raw, p.BodyStart)
			b.WriteString(convert.ToUTF8("", raw[:k]))
			b.WriteByte('\n')
		case p.IsMultipart():
			for _, c := range p.Parts {
				walk(c)
			}
		case p.IsMessage():
			inner := p.Parts[0]
			writeFields(&b, headerFields(readHeader(body, inner)))
			b.WriteByte('\n')
			walk(inner)
		case p.Type == "text" || p.Type == "message":
			t, err := convert.PartText(body, p)
			if err != nil {
				return
			}
			if p.Type == "text" && p.Subtype == "html" {
				t = convert.HTMLText(t)
			}
			b.WriteString(t[:min(len(t), convert.MaxText-b.Len())])
			b.WriteByte('\n')
		}
	}
	walk(p)
	return b.String()
}
