// Package search defines the full-text index that narrows IMAP SEARCH's
// text criteria (DESIGN.md section 4). The index never decides a match:
// it returns candidates, a superset of the messages whose text contains
// the searched string, and the caller keeps RFC 9051's case-insensitive
// substring meaning by checking each candidate.
//
// Invariants:
//   - Superset: every message whose field contains the query string (after
//     lower-casing both) is among the candidates. Backends index
//     overlapping character trigrams, and a query asks for all of its
//     trigrams, which any containing text has.
//   - A query shorter than a trigram cannot narrow: Search reports it with
//     ok == false, and the caller scans.
//   - Flags are never indexed: they change too often and come from
//     metadata.
//   - Watermark: each mailbox has a mark, the UID through which every
//     message is indexed. Put writes marks after its documents, in the
//     same request, so a reader that sees a mark also sees the documents
//     it covers. Messages above the mark are not yet indexed: callers
//     treat them as candidates, which keeps the superset promise while
//     indexing lags.
package search

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fields of a document, as SEARCH's criteria name them (RFC 9051 6.4.4).
const (
	FieldSubject = "subject"
	FieldFrom    = "from"
	FieldTo      = "to"
	FieldCc      = "cc"
	FieldBcc     = "bcc"
	FieldBody    = "body"    // BODY: the text of every part, attachments converted
	FieldHeaders = "headers" // HEADER and the header half of TEXT: every field, decoded
)

// Doc is one message's text.
type Doc struct {
	UserID, MailboxID string
	UID               uint32
	Subject, From     string
	To, Cc, Bcc       string
	Body, Headers     string
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
	// Search returns candidate UIDs for messages of the mailbox whose field
	// may contain text; ok is false when the index cannot narrow (text too
	// short), and then every message is a candidate.
	Search(ctx context.Context, userID, mailboxID, field, text string) (uids []uint32, ok bool, err error)
}

// MinQuery is the shortest query, in characters, an index can narrow.
const MinQuery = 3

// Canon maps text to the form an index stores and queries: each rune
// becomes the lower case of the smallest rune in its case-folding orbit,
// the fold SEARCH compares under (RFC 9051 6.4.4: ſ, s and S are one
// letter, as are the Kelvin sign and k). Two texts SEARCH finds equal
// have the same Canon, and Canon maps rune by rune, so a substring stays
// a substring: the trigram superset survives any case folding.
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
	return strings.Map(func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return unicode.ToLower(m)
	}, s)
}
