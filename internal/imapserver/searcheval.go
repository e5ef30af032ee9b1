package imapserver

import (
	"net/mail"
	"strings"
	"time"

	"golang.org/x/text/cases"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	qmail "github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/store"
)

// maxSearchText bounds the encoded bytes of one part read by a text
// search, and maxSearchHeader the header bytes.
const (
	maxSearchText   = 16 << 20
	maxSearchHeader = 1 << 20
)

// candidate is one message being searched. Text is decoded lazily, once.
type candidate struct {
	seq    uint32
	recent bool
	m      *fetchMsg
	fold   cases.Caser

	header *string // the decoded header block
	body   *string // the decoded text of every text part
	fields []message.Field
}

func (x *candidate) row() store.MessageRow { return x.m.row }

// searchCtx is what keys need beyond the message.
type searchCtx struct {
	maxSeq uint32
	maxUID qmail.UID
	saved  map[qmail.UID]bool
	now    time.Time
}

// matchKey evaluates a search key (RFC 9051 6.4.4) on x.
func (c *conn) matchKey(k *imapwire.SearchKey, x *candidate, sc *searchCtx) (bool, error) {
	r := x.row()
	fl := r.Flags
	switch k.Name {
	case "AND":
		for _, s := range k.Sub {
			if ok, err := c.matchKey(s, x, sc); !ok || err != nil {
				return false, err
			}
		}
		return true, nil
	case "OR":
		if ok, err := c.matchKey(k.Sub[0], x, sc); ok || err != nil {
			return ok, err
		}
		return c.matchKey(k.Sub[1], x, sc)
	case "NOT":
		ok, err := c.matchKey(k.Sub[0], x, sc)
		return !ok, err
	case "ALL", "SAVEDATESUPPORTED":
		return true, nil
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		return fl.Has(`\` + k.Name), nil
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return !fl.Has(`\` + strings.TrimPrefix(k.Name, "UN")), nil
	case "KEYWORD":
		return fl.Has(k.Value), nil
	case "UNKEYWORD":
		return !fl.Has(k.Value), nil
	case "RECENT":
		return x.recent, nil
	case "NEW":
		return x.recent && !fl.Has(`\Seen`), nil
	case "OLD":
		return !x.recent, nil
	case "SEQSET":
		if k.Set.Saved {
			return sc.saved[r.UID], nil
		}
		return k.Set.Contains(x.seq, sc.maxSeq), nil
	case "UID":
		if k.Set.Saved {
			return sc.saved[r.UID], nil
		}
		return k.Set.Contains(uint32(r.UID), uint32(sc.maxUID)), nil
	case "LARGER":
		return uint64(r.Meta.Size) > k.Number, nil
	case "SMALLER":
		return uint64(r.Meta.Size) < k.Number, nil
	case "MODSEQ":
		return uint64(r.ModSeq) >= k.Number, nil
	case "YOUNGER": // RFC 5032
		return sc.now.Sub(r.Meta.InternalDate) <= time.Duration(k.Number)*time.Second, nil
	case "OLDER":
		return sc.now.Sub(r.Meta.InternalDate) >= time.Duration(k.Number)*time.Second, nil
	case "EMAILID":
		return r.Meta.EmailID == k.Value, nil
	case "THREADID":
		return false, nil // no thread IDs are kept (FETCH THREADID is NIL)
	case "BEFORE", "ON", "SINCE":
		return cmpDate(k.Name, r.Meta.InternalDate, k.Date), nil
	case "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		return cmpDate(strings.TrimPrefix(k.Name, "SAVED"), r.Meta.SaveDate, k.Date), nil
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		return cmpDate(strings.TrimPrefix(k.Name, "SENT"), x.sentDate(), k.Date), nil
	case "SUBJECT", "FROM", "TO", "CC", "BCC":
		return x.contains(x.envField(k.Name), k.Value), nil
	case "HEADER":
		fs, err := x.headerFields()
		if err != nil {
			return false, err
		}
		for _, f := range fs {
			if strings.EqualFold(f.Name, k.Field) && x.contains(message.DecodeHeader(f.Value), k.Value) {
				return true, nil
			}
		}
		return false, nil
	case "BODY", "TEXT":
		if k.Name == "TEXT" {
			h, err := x.headerText()
			if err != nil {
				return false, err
			}
			if x.contains(h, k.Value) {
				return true, nil
			}
		}
		b, err := x.bodyText()
		if err != nil {
			return false, err
		}
		return x.contains(b, k.Value), nil
	}
	return false, nil
}

// cmpDate compares the calendar dates of t and day, "disregarding time and
// timezone" (RFC 9051 6.4.4): t's date is taken in its own zone.
func cmpDate(op string, t, day time.Time) bool {
	if t.IsZero() {
		return false
	}
	y, m, d := t.Date()
	a := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	y, m, d = day.Date()
	b := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	switch op {
	case "BEFORE":
		return a.Before(b)
	case "ON":
		return a.Equal(b)
	}
	return !a.Before(b) // SINCE
}

// contains is RFC 9051's case-insensitive substring match, with Unicode
// case folding; an empty needle matches.
func (x *candidate) contains(hay, needle string) bool {
	if needle == "" {
		return true
	}
	return strings.Contains(x.fold.String(hay), x.fold.String(needle))
}

// sentDate is the Date: header's time in its own zone, or the internal
// date when it is missing or unreadable (RFC 5256 2.2 does the same).
func (x *candidate) sentDate() time.Time {
	p := x.m.structure()
	if p.Envelope != nil && p.Envelope.Date != "" {
		if t, err := mail.ParseDate(p.Envelope.Date); err == nil {
			return t
		}
	}
	return x.row().Meta.InternalDate
}

// envField is the decoded text of an address or subject field, from the
// stored envelope (no body read): display names and addresses.
func (x *candidate) envField(name string) string {
	e := x.m.structure().Envelope
	if e == nil {
		return ""
	}
	var as []message.Address
	switch name {
	case "SUBJECT":
		return message.DecodeHeader(e.Subject)
	case "FROM":
		as = e.From
	case "TO":
		as = e.To
	case "CC":
		as = e.Cc
	case "BCC":
		as = e.Bcc
	}
	var b strings.Builder
	for _, a := range as {
		if a.Name != "" {
			b.WriteString(message.DecodeHeader(a.Name) + " ")
		}
		b.WriteString("<" + a.Mailbox + "@" + a.Host + "> ")
	}
	return b.String()
}

func (x *candidate) rawHeader() ([]byte, error) {
	p := x.m.structure()
	blob, err := x.m.body()
	if err != nil {
		return nil, err
	}
	n := min(p.BodyStart-p.HeaderStart, maxSearchHeader)
	buf := make([]byte, max(n, 0))
	k, _ := blob.ReadAt(buf, p.HeaderStart)
	return buf[:k], nil
}

func (x *candidate) headerFields() ([]message.Field, error) {
	if x.fields == nil {
		raw, err := x.rawHeader()
		if err != nil {
			return nil, err
		}
		x.fields = message.HeaderFields(raw)
	}
	return x.fields, nil
}

func (x *candidate) headerText() (string, error) {
	if x.header == nil {
		fs, err := x.headerFields()
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, f := range fs {
			b.WriteString(f.Name + ": " + message.DecodeHeader(f.Value) + "\n")
		}
		s := b.String()
		x.header = &s
	}
	return *x.header, nil
}

// bodyText decodes every text part, nested messages' included.
func (x *candidate) bodyText() (string, error) {
	if x.body != nil {
		return *x.body, nil
	}
	blob, err := x.m.body()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var walk func(p *message.Part, root bool)
	walk = func(p *message.Part, root bool) {
		switch {
		case p.IsMultipart():
			for _, ch := range p.Parts {
				walk(ch, false)
			}
		case p.IsMessage():
			if m := p.Parts[0]; m != nil {
				if raw := make([]byte, min(m.BodyStart-m.HeaderStart, maxSearchHeader)); len(raw) > 0 {
					k, _ := blob.ReadAt(raw, m.HeaderStart)
					for _, f := range message.HeaderFields(raw[:k]) {
						b.WriteString(f.Name + ": " + message.DecodeHeader(f.Value) + "\n")
					}
				}
				walk(m, true)
			}
		case p.Type == "text" || root && p.Type == "":
			if t, err := message.PartText(blob, p, maxSearchText); err == nil {
				b.WriteString(t)
				b.WriteByte('\n')
			}
		}
	}
	walk(x.m.structure(), true)
	s := b.String()
	x.body = &s
	return s, nil
}

// hasModSeq reports whether the program uses MODSEQ (RFC 7162 3.1.5).
func hasModSeq(k *imapwire.SearchKey) bool {
	if k.Name == "MODSEQ" {
		return true
	}
	for _, s := range k.Sub {
		if hasModSeq(s) {
			return true
		}
	}
	return false
}
