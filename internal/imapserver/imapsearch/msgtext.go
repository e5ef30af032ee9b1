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
	return convert.AddressText(as), nil
}

// headerFields returns the fields of the message's header.
func (e *evaluator) headerFields() ([]convert.Field, error) {
	if !e.fieldsDone {
		p, err := e.part()
		if err != nil {
			return nil, err
		}
		body, err := e.openBody()
		if err != nil {
			return nil, err
		}
		e.fields = convert.HeaderFields(convert.ReadHeader(body, p))
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
		if !strings.EqualFold(f.Name, name) {
			continue
		}
		if value == "" {
			return true, nil
		}
		if e.foldedField[i] == "" {
			e.foldedField[i] = fold(convert.DecodeHeader(f.Value))
		}
		if strings.Contains(e.foldedField[i], needle) {
			return true, nil
		}
	}
	return false, nil
}

// headerText is the text of the whole header, one decoded field a line,
// with the MIME header fields of body parts (convert.SearchHeader),
// unfolded: containsFolded compares it.
func (e *evaluator) headerText() (string, error) {
	if e.header == nil {
		p, err := e.part()
		if err != nil {
			return "", err
		}
		body, err := e.openBody()
		if err != nil {
			return "", err
		}
		s := convert.SearchHeader(body, p)
		e.header = &s
	}
	return *e.header, nil
}

// bodyContains reports whether the folded text of the body holds
// needle (folded): every text leaf decoded, HTML reduced to its text,
// and encapsulated messages' headers and text (convert.SearchBody). It
// looks a piece at a time (containsFolded, which folds only when it
// must) and stops at the first piece that holds needle, before the
// costlier ones after it (the HTML of an alternative); a needle in no
// single piece is looked for in the whole, which is kept for the next
// key.
func (e *evaluator) bodyContains(needle string) (bool, error) {
	if e.text != nil {
		return containsFolded(*e.text, needle), nil
	}
	p, err := e.part()
	if err != nil {
		return false, err
	}
	body, err := e.openBody()
	if err != nil {
		return false, err
	}
	var pieces []string
	found := false
	convert.EachSearchBody(body, p, func(piece string) bool {
		pieces = append(pieces, piece)
		found = containsFolded(piece, needle)
		return !found
	})
	if found {
		return true, nil
	}
	s := strings.Join(pieces, "")
	e.text = &s
	return containsFolded(s, needle), nil
}

// attachmentText is the text of the attachments, unfolded, through
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
			s = e.c.Attachments(raw[:n], p)
		}
		e.attachments = &s
	}
	return *e.attachments, nil
}
