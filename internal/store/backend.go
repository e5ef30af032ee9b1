package store

import (
	"context"
	"io"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// Backend is the persistence a Store runs on. Each backend (embedded,
// cassandra) implements it, and internal/store/storetest checks that each
// one keeps the contract written on these methods.
//
// The backend persists; it does not decide. UID and mod-sequence allocation,
// counters and quota are computed by Store and handed to Commit, whose
// compare-and-set makes them safe under any number of writers.
type Backend interface {
	Users
	Mailboxes
	Index
	IndexQueue
	Blobs
	// Close releases the backend's resources. It must be called once.
	Close() error
}

// Users persists user records.
type Users interface {
	// CreateUser inserts u; mail.ErrUserExists if u.Address is taken.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with the given (canonical) address, or mail.ErrNoSuchUser.
	User(ctx context.Context, address string) (User, error)
	// UpdateUser replaces the record of an existing user (matched by Address).
	UpdateUser(ctx context.Context, u User) error
	// DeleteUser removes the user, its mailbox records and subscriptions.
	// Message data left behind is unreachable and is swept by the purge.
	DeleteUser(ctx context.Context, u User) error
	// ListUsers calls fn for every user, in no particular order.
	ListUsers(ctx context.Context, fn func(User) error) error
	// NextUIDValidity returns a UIDVALIDITY never returned before for this
	// user, atomically (RFC 9051 2.3.1.1).
	NextUIDValidity(ctx context.Context, userID string) (uint32, error)
}

// Mailboxes persists mailbox records and subscriptions.
type Mailboxes interface {
	// CreateMailbox inserts mb and its empty Head (UIDNext 1, ModSeq 1);
	// mail.ErrMailboxExists if the user has a mailbox of that name.
	CreateMailbox(ctx context.Context, mb Mailbox) error
	// Mailbox returns the user's mailbox by name, or mail.ErrNoSuchMailbox.
	Mailbox(ctx context.Context, userID, name string) (Mailbox, error)
	// ListMailboxes returns all of the user's mailboxes, sorted by name.
	ListMailboxes(ctx context.Context, userID string) ([]Mailbox, error)
	// RenameMailbox gives mb the name newName, keeping its ID and contents;
	// mail.ErrMailboxExists if newName is taken.
	RenameMailbox(ctx context.Context, mb Mailbox, newName string) error
	// DeleteMailbox removes the mailbox record. Its messages become
	// unreachable and are swept by the purge.
	DeleteMailbox(ctx context.Context, mb Mailbox) error
	// SetSubscribed adds or removes a subscription (RFC 9051 6.3.7). A
	// subscription may name a mailbox that does not exist.
	SetSubscribed(ctx context.Context, userID, name string, on bool) error
	// Subscriptions returns the user's subscribed names, sorted.
	Subscriptions(ctx context.Context, userID string) ([]string, error)
}

// Index persists each mailbox's head, message rows and change log.
type Index interface {
	// Head returns the mailbox's current head: it reflects every Commit that
	// returned before Head was called.
	Head(ctx context.Context, mailboxID string) (Head, error)
	// Commit replaces the mailbox's head with next and applies changes,
	// atomically, if and only if the stored head's ModSeq is prev.ModSeq.
	// Otherwise it applies nothing and returns mail.ErrConflict. Changes are
	// given in ascending (ModSeq, UID) order, and next.ModSeq is the highest
	// ModSeq among them; changes may be empty (a head repaired by quire
	// check), and next then replaces the head alone. When Commit returns
	// nil the change is durable at the configured write consistency. A
	// Commit whose outcome is unknown (a timeout) is resolved by the
	// backend before it returns: nil if it landed, an error wrapping
	// mail.ErrUnavailable if it cannot tell, by ctx's deadline; a backend
	// that can end there implements UncertainLedger and records the
	// appends of such a commit in it first.
	// (The embedded backend's commits are local and never uncertain.)
	Commit(ctx context.Context, mailboxID string, prev, next Head, changes []Change) error
	// Messages calls fn for each live message with lo <= UID <= hi, in
	// ascending UID order (hi 0 means no upper bound). The rows reflect at
	// least every Commit that returned before Messages was called.
	Messages(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(MessageRow) error) error
	// States is Messages without the metadata: same rows, same order, same
	// freshness, but a backend reads and decodes only UID, MODSEQ and flags.
	States(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(MessageState) error) error
	// Expunged calls fn, in ascending UID order, for each of uids
	// (ascending) that was in the mailbox and has been expunged: its
	// metadata, its flags when expunged, and the MODSEQ of its expunge. A
	// UID that is live or was never in the mailbox is skipped. It reflects
	// at least every Commit that returned before it was called. A session
	// uses it to serve a message another session expunged until the expunge
	// is announced (RFC 2180 4.1.1); bodies are content-addressed, so the
	// metadata leads to the body as long as the body is stored.
	Expunged(ctx context.Context, mailboxID string, uids []mail.UID, fn func(MessageRow) error) error
	// Changes calls fn for each recorded change with ModSeq > since, in
	// ascending (ModSeq, UID) order. Expunges stay in the log with their
	// ModSeq (RFC 7162 3.2.10). Append changes carry Meta while the message
	// is live; after its expunge they may carry nil. A backend that trims
	// its log (LogTrimmer) fails with a *LogTrimmedError (ErrLogTrimmed)
	// when since is below the mailbox's floor, never returning a short
	// list; fn may have been called before, and the caller discards that.
	Changes(ctx context.Context, mailboxID string, since mail.ModSeq, fn func(Change) error) error
	// GetText and PutText are the converter's cache (ms_cache): text by
	// the content hash of a part. Entries expire after the store's cache
	// TTL; a missing entry is ok == false, not an error.
	GetText(ctx context.Context, hash []byte) (kind, text string, ok bool, err error)
	PutText(ctx context.Context, hash []byte, kind, text string) error
	// MaxChangesPerCommit bounds len(changes) for one Commit.
	MaxChangesPerCommit() int
}

// IndexQueue persists which mailboxes may hold messages the full-text
// index lacks, so that indexing resumes after a restart or a crash
// between a commit and its indexing (DESIGN.md section 4). A mark is
// written before the commit that adds messages and cleared once the
// indexer has caught up; a mark that outlives its need costs one
// catch-up that finds nothing to do.
type IndexQueue interface {
	// MarkUnindexed records p (keyed by Group, UserID, MailboxID), with
	// p.Marked replacing the time of an earlier mark.
	MarkUnindexed(ctx context.Context, p Unindexed) error
	// Unindexed calls fn for each mark of the group, in no particular
	// order.
	Unindexed(ctx context.Context, group string, fn func(Unindexed) error) error
	// ClearUnindexed removes p's mark unless it was marked after before,
	// so that a mark made while the indexer was catching up survives.
	ClearUnindexed(ctx context.Context, p Unindexed, before time.Time) error
}

// HeadHinter is implemented by backends that remember the last head they
// committed or read. A writer may use the hint as Commit's prev: if another
// writer moved the head since, Commit conflicts and the writer reads the
// head properly. Readers never use hints.
type HeadHinter interface {
	HeadHint(mailboxID string) (Head, bool)
}

// Local is implemented by a backend whose reads and writes are local (no
// network round trip): the store does a one-recipient delivery's steps in
// sequence rather than overlapping the body's write with the recipient's
// reads on goroutines of their own, whose start and stack growth cost
// more CPU than the overlap saves time.
type Local interface {
	Local() bool
}

// HeadStater is implemented by backends that read a mailbox's head and
// its States (the whole mailbox) together for less than Head then States.
// The head is no newer than the states: every commit it shows is in them.
type HeadStater interface {
	HeadStates(ctx context.Context, mailboxID string, fn func(MessageState) error) (Head, error)
}

// Blobs persists immutable message bodies, content-addressed.
type Blobs interface {
	// PutBlob stores size bytes from r under id, durable once it returns
	// or, at the latest, once a later Commit of the same backend returns
	// (the embedded store's one write-ahead log orders them), so a row
	// committed after it never points at a missing body.
	// Putting an id that exists is a no-op that succeeds: ids are content
	// hashes, so the bytes are the same.
	PutBlob(ctx context.Context, id BlobID, size int64, r io.Reader) error
	// OpenBlob returns a reader for the blob, or mail.ErrNoBlob.
	OpenBlob(ctx context.Context, id BlobID) (Blob, error)
	// HasBlob reports whether the blob is stored whole.
	HasBlob(ctx context.Context, id BlobID) (bool, error)
}

// Blob is a stored message body. ReadAt serves partial fetches without
// reading the whole body.
type Blob interface {
	io.ReaderAt
	Size() int64
	Close() error
}
