// Package imapsearch evaluates IMAP SEARCH programs (RFC 9051 6.4.4 with
// RFC 5032 YOUNGER/OLDER, RFC 7162 MODSEQ, RFC 8474 EMAILID/THREADID and
// RFC 8514 SAVED*), orders messages for SORT (RFC 5256 3, RFC 5957
// DISPLAYFROM/DISPLAYTO) and builds THREAD trees (RFC 5256 2:
// ORDEREDSUBJECT and REFERENCES). It also holds the text decoding that
// searching needs: RFC 2047 header words, transfer encodings and
// charsets, and Unicode case-insensitive matching.
//
// The package is pure: it reads messages only through the Message
// interface and keeps no state between calls. The session checks the
// search charset; only US-ASCII and UTF-8 strings are expected, and search
// strings are matched as UTF-8.
package imapsearch

import (
	"fmt"
	"io"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
)

// Message is what the evaluator needs about one message. The session
// implements it, lazily where it can: Body is called only when a text key
// needs the message's bytes, at most once per Match call.
type Message interface {
	Seq() uint32
	UID() mail.UID
	Flags() mail.Flags
	ModSeq() mail.ModSeq
	InternalDate() time.Time
	SaveDate() time.Time // zero if unknown
	Size() int64
	Recent() bool
	EmailID() string
	ThreadID() string
	// Structure is the stored MIME structure; nil makes the evaluator scan
	// Body itself.
	Structure() *message.Part
	// Body returns the raw message, Size bytes.
	Body() (io.ReaderAt, error)
}

// Context holds what search keys need beyond the message.
type Context struct {
	MaxSeq uint32   // the value of "*" in a sequence set
	MaxUID mail.UID // the value of "*" in a UID set
	// Saved reports whether a message is in the saved search result "$"
	// (RFC 5182); nil means the result is empty.
	Saved func(seq uint32, uid mail.UID) bool
	// Now is the time YOUNGER and OLDER count from; nil means time.Now.
	Now func() time.Time
	// Location is the zone whose calendar dates BEFORE, ON, SINCE and
	// SAVED* compare; nil means UTC.
	Location *time.Location
	// Attachments, if set, returns the text of a message's attachments
	// (its leaves that are neither text nor messages, converted), which
	// BODY and TEXT then search too; raw is the whole message. nil: BODY
	// and TEXT read only the text parts.
	Attachments func(raw []byte, root *message.Part) string
	// Known, if set, may answer a text key (SUBJECT, FROM, TO, CC, BCC,
	// BODY, TEXT) for a message without reading it: ok is false when it
	// cannot (the full-text index, whose answers are exact).
	Known func(k *imapwire.SearchKey, uid mail.UID) (match, ok bool)
	// RuledOut, if set, may tell that a message cannot satisfy a BODY or
	// TEXT key without reading it (a phrase filter, search.Pairs): true
	// only when it surely does not; false when it may, or cannot tell.
	RuledOut func(k *imapwire.SearchKey, m Message) bool
}

// Match reports whether m satisfies key (RFC 9051 6.4.4). It fails only
// when a text key needs the message's bytes and Body fails, or on a
// malformed key.
func Match(key *imapwire.SearchKey, m Message, c Context) (bool, error) {
	e := &evaluator{m: m, c: c}
	return e.match(key)
}

// NeedsBody reports whether key reads message text (BODY, TEXT or
// HEADER), so that the caller opens bodies only then. The other text keys
// (SUBJECT, FROM, TO, CC, BCC) use the envelope in Structure.
func NeedsBody(key *imapwire.SearchKey) bool {
	return anyKey(key, func(k *imapwire.SearchKey) bool {
		return k.Name == "BODY" || k.Name == "TEXT" || k.Name == "HEADER"
	})
}

// HasModSeq reports whether key uses MODSEQ, in which case the SEARCH
// response ends with the highest mod-sequence of the matches (RFC 7162
// 3.1.5).
func HasModSeq(key *imapwire.SearchKey) bool {
	return anyKey(key, func(k *imapwire.SearchKey) bool { return k.Name == "MODSEQ" })
}

// UsesSaved reports whether key refers to the saved result "$" (RFC 5182).
func UsesSaved(key *imapwire.SearchKey) bool {
	return anyKey(key, func(k *imapwire.SearchKey) bool {
		return (k.Name == "SEQSET" || k.Name == "UID") && k.Set.Saved
	})
}

// StateOnly reports whether key reads only what a message's light state
// holds (flags, MODSEQ, UID, sequence number, \Recent), so that the
// caller can read the store's States instead of whole rows.
func StateOnly(key *imapwire.SearchKey) bool {
	return !anyKey(key, func(k *imapwire.SearchKey) bool {
		switch k.Name {
		case "AND", "OR", "NOT", "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN",
			"UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "KEYWORD", "UNKEYWORD",
			"RECENT", "NEW", "OLD", "SEQSET", "UID", "MODSEQ":
			return false
		}
		return true
	})
}

func anyKey(k *imapwire.SearchKey, f func(*imapwire.SearchKey) bool) bool {
	if k == nil {
		return false
	}
	if f(k) {
		return true
	}
	for _, s := range k.Sub {
		if anyKey(s, f) {
			return true
		}
	}
	return false
}

// evaluator evaluates one program on one message, decoding each text once.
type evaluator struct {
	m Message
	c Context

	structure *message.Part
	scanned   bool

	body    io.ReaderAt
	bodyErr error
	opened  bool

	fields      []convert.Field // the top-level header
	foldedField []string        // decoded, folded values of fields, "" until needed
	fieldsDone  bool
	header      *string // "Name: value" lines of the header (unfolded: containsFolded)
	text        *string // body text, unfolded
	attachments *string // text of the attachments, unfolded
}

func (e *evaluator) match(k *imapwire.SearchKey) (bool, error) {
	if k == nil {
		return false, fmt.Errorf("imapsearch: nil search key")
	}
	fl := e.m.Flags()
	switch k.Name {
	case "AND":
		// Keys that need no message text first, so that a cheap key that
		// fails spares opening the body.
		for pass := 0; pass < 2; pass++ {
			for _, s := range k.Sub {
				if NeedsBody(s) != (pass == 1) {
					continue
				}
				if ok, err := e.match(s); !ok || err != nil {
					return false, err
				}
			}
		}
		return true, nil
	case "OR":
		if len(k.Sub) != 2 {
			return false, fmt.Errorf("imapsearch: OR with %d keys", len(k.Sub))
		}
		a, b := k.Sub[0], k.Sub[1]
		if NeedsBody(a) && !NeedsBody(b) {
			a, b = b, a
		}
		if ok, err := e.match(a); ok || err != nil {
			return ok, err
		}
		return e.match(b)
	case "NOT":
		if len(k.Sub) != 1 {
			return false, fmt.Errorf("imapsearch: NOT with %d keys", len(k.Sub))
		}
		ok, err := e.match(k.Sub[0])
		return !ok && err == nil, err
	case "ALL", "SAVEDATESUPPORTED":
		return true, nil
	case "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN":
		return fl.Has(`\` + k.Name), nil
	case "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN":
		return !fl.Has(`\` + k.Name[2:]), nil
	case "KEYWORD":
		return fl.Has(k.Value), nil
	case "UNKEYWORD":
		return !fl.Has(k.Value), nil
	case "RECENT":
		return e.m.Recent(), nil
	case "NEW":
		return e.m.Recent() && !fl.Has(mail.FlagSeen), nil
	case "OLD":
		return !e.m.Recent(), nil
	case "SEQSET":
		if k.Set.Saved {
			return e.saved(), nil
		}
		return k.Set.Contains(e.m.Seq(), e.c.MaxSeq), nil
	case "UID":
		if k.Set.Saved {
			return e.saved(), nil
		}
		return k.Set.Contains(uint32(e.m.UID()), uint32(e.c.MaxUID)), nil
	case "LARGER":
		return e.m.Size() >= 0 && uint64(e.m.Size()) > k.Number, nil
	case "SMALLER":
		return e.m.Size() < 0 || uint64(e.m.Size()) < k.Number, nil
	case "MODSEQ":
		return uint64(e.m.ModSeq()) >= k.Number, nil
	case "YOUNGER", "OLDER":
		// RFC 5032: YOUNGER n is an internal date less than n seconds ago,
		// OLDER n the rest, so that one is the other's negation.
		young := e.now().Sub(e.m.InternalDate()) < time.Duration(min(k.Number, 1<<33))*time.Second
		return young == (k.Name == "YOUNGER"), nil
	case "EMAILID":
		return k.Value != "" && e.m.EmailID() == k.Value, nil
	case "THREADID":
		return k.Value != "" && e.m.ThreadID() == k.Value, nil
	case "BEFORE", "ON", "SINCE":
		return compareDay(k.Name, e.m.InternalDate().In(e.loc()), k.Date), nil
	case "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		t := e.m.SaveDate()
		if t.IsZero() { // not recorded: saved when it arrived
			t = e.m.InternalDate()
		}
		return compareDay(k.Name[len("SAVED"):], t.In(e.loc()), k.Date), nil
	case "SENTBEFORE", "SENTON", "SENTSINCE":
		// The Date: field's own calendar date, "disregarding time and
		// timezone"; the internal date when it has none.
		env, err := e.envelope()
		if err != nil {
			return false, err
		}
		t, ok := parseDate(env.Date)
		if !ok {
			t = e.m.InternalDate().In(e.loc())
		}
		return compareDay(k.Name[len("SENT"):], t, k.Date), nil
	case "SUBJECT", "FROM", "TO", "CC", "BCC":
		if v, ok := e.known(k); ok {
			return v, nil
		}
		t, err := e.envelopeText(k.Name)
		if err != nil {
			return false, err
		}
		return containsFolded(t, fold(k.Value)), nil
	case "HEADER":
		return e.matchHeader(k.Field, k.Value)
	case "BODY", "TEXT":
		if v, ok := e.known(k); ok {
			return v, nil
		}
		if e.c.RuledOut != nil && e.c.RuledOut(k, e.m) {
			return false, nil
		}
		needle := fold(k.Value)
		if k.Name == "TEXT" {
			h, err := e.headerText()
			if err != nil {
				return false, err
			}
			if containsFolded(h, needle) {
				return true, nil
			}
		}
		if ok, err := e.bodyContains(needle); err != nil || ok {
			return ok, err
		}
		a, err := e.attachmentText()
		if err != nil {
			return false, err
		}
		return containsFolded(a, needle), nil
	}
	return false, fmt.Errorf("imapsearch: unknown search key %q", k.Name)
}

func (e *evaluator) known(k *imapwire.SearchKey) (bool, bool) {
	if e.c.Known == nil {
		return false, false
	}
	return e.c.Known(k, e.m.UID())
}

func (e *evaluator) saved() bool {
	return e.c.Saved != nil && e.c.Saved(e.m.Seq(), e.m.UID())
}

func (e *evaluator) now() time.Time {
	if e.c.Now != nil {
		return e.c.Now()
	}
	return time.Now()
}

func (e *evaluator) loc() *time.Location {
	if e.c.Location != nil {
		return e.c.Location
	}
	return time.UTC
}

// compareDay compares the calendar date of t, in t's own location, with
// the date of day (a search date).
func compareDay(op string, t, day time.Time) bool {
	y, m, d := t.Date()
	a := y*10000 + int(m)*100 + d
	y, m, d = day.Date()
	b := y*10000 + int(m)*100 + d
	switch op {
	case "BEFORE":
		return a < b
	case "ON":
		return a == b
	}
	return a >= b // SINCE
}
