// Package search defines the full-text index that answers IMAP SEARCH's
// text criteria (DESIGN.md section 4) with RFC 9051's case-insensitive
// substring meaning.
//
// Invariants:
//   - Exact: Search returns the messages whose field, under Canon,
//     contains the query under Canon. Backends index each field as
//     overlapping character trigrams of its Canon text, each at its
//     character position, and a query asks for its trigrams at
//     consecutive positions (a phrase), which only a text containing the
//     query has. Canon folds case as SEARCH does, so the answer is
//     SEARCH's own for the text the indexer stored.
//   - A query shorter than a trigram cannot be answered: Search reports
//     it with ok == false, and the caller reads the messages.
//   - Flags are never indexed: they change too often and come from
//     metadata.
//   - Watermark: each mailbox has a mark, the UID through which every
//     message is indexed. Put writes marks after its documents, in the
//     same request, so a reader that sees a mark also sees the documents
//     it covers. Messages above the mark are not yet indexed: callers
//     read them.
package search

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fields of a document, as SEARCH's criteria name them (RFC 9051 6.4.4).
const (
	FieldSubject     = "subject"
	FieldFrom        = "from"
	FieldTo          = "to"
	FieldCc          = "cc"
	FieldBcc         = "bcc"
	FieldBody        = "body"        // BODY: the text parts (convert.SearchBody)
	FieldAttachments = "attachments" // BODY too: the attachments, converted (convert.Attachments)
	FieldHeaders     = "headers"     // TEXT's header half, and HEADER: every field, decoded (convert.SearchHeader)
)

// Doc is one message's text.
type Doc struct {
	UserID, MailboxID string
	UID               uint32
	Subject, From     string
	To, Cc, Bcc       string
	Body, Attachments string
	Headers           string
}

// Fields are the text fields of a Doc, by name.
func (d Doc) Fields() map[string]string {
	return map[string]string{
		FieldSubject: d.Subject, FieldFrom: d.From, FieldTo: d.To, FieldCc: d.Cc, FieldBcc: d.Bcc,
		FieldBody: d.Body, FieldAttachments: d.Attachments, FieldHeaders: d.Headers,
	}
}

// Mark says that every message of a mailbox with UID <= UID is indexed.
type Mark struct {
	UserID, MailboxID string
	UID               uint32
}

// Index is a full-text index of messages, per user and mailbox.
type Index interface {
	// Put indexes docs, replacing earlier versions of the same messages,
	// then sets marks, visible no sooner than the documents.
	Put(ctx context.Context, docs []Doc, marks ...Mark) error
	// Indexed returns the mailbox's mark: 0 when nothing is indexed.
	Indexed(ctx context.Context, userID, mailboxID string) (uint32, error)
	// Delete removes messages (expunged).
	Delete(ctx context.Context, userID, mailboxID string, uids []uint32) error
	// DeleteMailbox removes every message of a mailbox, and its mark.
	DeleteMailbox(ctx context.Context, userID, mailboxID string) error
	// DeleteUser removes every message and mark of a user.
	DeleteUser(ctx context.Context, userID string) error
	// Search returns the UIDs of the mailbox's indexed messages whose
	// field contains text (under Canon); ok is false when the text is too
	// short to ask (MinQuery).
	Search(ctx context.Context, userID, mailboxID, field, text string) (uids []uint32, ok bool, err error)
}

// MinQuery is the shortest query, in characters, an index can narrow.
const MinQuery = 3

// Canon maps text to the form an index stores and queries: each rune
// becomes one representative of its case-folding orbit, the fold SEARCH
// compares under (RFC 9051 6.4.4: ſ, s and S are one letter, as are the
// Kelvin sign and k) — the orbit's lower case where it has one. Two runes
// have the same Canon exactly when SEARCH finds them equal, and Canon maps
// rune by rune, so "a contains b" holds for the Canon texts exactly when
// it holds for SEARCH.
func Canon(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	return strings.Map(canonRune, s)
}

func canonRune(r rune) rune {
	m := r // the orbit's smallest rune: SEARCH's fold
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	// Its lower case stands for the orbit when it is in the orbit (not
	// so for İ, whose lower case i belongs to I).
	for l, f := unicode.ToLower(m), m; ; {
		if f == l {
			return l
		}
		if f = unicode.SimpleFold(f); f == m {
			return m
		}
	}
}

// Gram is one trigram of a text and the position of its first rune.
type Gram struct {
	Term       string
	Pos        int // rune index
	Start, End int // byte offsets
}

// Grams returns the overlapping trigrams of Canon(s), in order: the terms
// an index stores for a field and a query asks for, at consecutive
// positions. A text shorter than three runes has none.
func Grams(s string) []Gram {
	s = Canon(s)
	var starts []int
	for i := range s {
		starts = append(starts, i)
	}
	if len(starts) < 3 {
		return nil
	}
	starts = append(starts, len(s))
	out := make([]Gram, 0, len(starts)-3)
	for i := 0; i+3 < len(starts); i++ {
		out = append(out, Gram{Term: s[starts[i]:starts[i+3]], Pos: i, Start: starts[i], End: starts[i+3]})
	}
	return out
}
