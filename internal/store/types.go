package store

import (
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// User is a mail account. ID is assigned once and never reused, so data keyed
// by a deleted user's ID is never seen by a new user of the same address.
type User struct {
	ID           string
	Address      string // canonical: lower case, no +detail
	PasswordHash string // PHC string, e.g. $argon2id$...
	// Quota limits (RFC 9208 STORAGE in bytes, MESSAGE); 0 means unlimited.
	QuotaStorage  int64
	QuotaMessages int64
	MailHost      string // the store affinity group or host serving the user
	Created       time.Time
}

// Mailbox is a mailbox record. ID is never reused; a mailbox deleted and
// created again under the same name gets a new ID and a new UIDVALIDITY.
type Mailbox struct {
	ID          string
	UserID      string
	Name        string // UTF-8, "/" separated; the inbox is always "INBOX"
	UIDValidity uint32
	SpecialUse  string // RFC 6154 attribute such as `\Sent`, or ""
	Created     time.Time
	// MailHost is the owner's mailHost, copied from the User by the Store
	// methods that look a mailbox up for one; not persisted. Events about
	// the mailbox carry it, so the notifier can route them to the user's
	// store affinity group.
	MailHost string `json:"-"`
}

// Head is a mailbox's summary, replaced atomically with every change. Its
// counts are exact: each Commit adjusts them together with the change.
type Head struct {
	UIDNext  mail.UID
	ModSeq   mail.ModSeq // HIGHESTMODSEQ (RFC 7162 3.1.2)
	Messages int64
	Unseen   int64
	Deleted  int64 // messages with \Deleted
	Size     int64 // sum of message sizes, bytes
}

// EmptyHead is the head of a new mailbox.
func EmptyHead() Head { return Head{UIDNext: 1, ModSeq: 1} }

// ChangeKind says what a Change did.
type ChangeKind uint8

// Change kinds.
const (
	ChangeAppend  ChangeKind = 1
	ChangeFlags   ChangeKind = 2
	ChangeExpunge ChangeKind = 3
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeAppend:
		return "append"
	case ChangeFlags:
		return "flags"
	case ChangeExpunge:
		return "expunge"
	}
	return "unknown"
}

// Change is one entry of a mailbox's change log: what happened to one
// message at one mod-sequence.
type Change struct {
	ModSeq mail.ModSeq
	UID    mail.UID
	Kind   ChangeKind
	Flags  mail.Flags   // after the change (append, flags)
	Meta   *MessageMeta // append only
}

// Row returns the message row an append or flags change leaves behind;
// prev is the row before a flags change.
func (c Change) Row(prev MessageRow) MessageRow {
	r := prev
	if c.Meta != nil {
		r.Meta = *c.Meta
	}
	r.UID, r.ModSeq, r.Flags = c.UID, c.ModSeq, c.Flags
	return r
}

// BlobID names a message body by content: the lower-case hex SHA-256 of its
// raw bytes.
type BlobID string

// Valid reports whether id has the form of a BlobID: 64 lower-case hex
// digits. Backends refuse others, so an id can be used in a path or a key.
func (id BlobID) Valid() bool {
	if len(id) != 64 {
		return false
	}
	for _, c := range []byte(id) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// MessageMeta is what never changes about a message in a mailbox.
type MessageMeta struct {
	Blob         BlobID
	Size         int64
	InternalDate time.Time // RFC 9051 2.3.3
	SaveDate     time.Time // RFC 8514
	ReturnPath   string    // the envelope sender, as LMTP MAIL FROM gave it
	EmailID      string    // RFC 8474 EMAILID: the same for every copy
	Structure    []byte    // message.Part, marshaled: ENVELOPE, BODYSTRUCTURE, offsets
}

// MessageRow is a live message in a mailbox.
// MessageState is a message's mutable state without its metadata: all that
// SELECT, EXPUNGE and CLOSE need, and cheaper to read than a MessageRow.
type MessageState struct {
	UID    mail.UID
	ModSeq mail.ModSeq
	Flags  mail.Flags
}

type MessageRow struct {
	UID    mail.UID
	ModSeq mail.ModSeq
	Flags  mail.Flags
	Meta   MessageMeta
}

// Unindexed marks a mailbox of a store affinity group (Group is its
// owner's mailHost, "" for none) that may hold messages not yet in the
// full-text index, since Marked.
type Unindexed struct {
	Group, UserID, MailboxID string
	Marked                   time.Time
}
