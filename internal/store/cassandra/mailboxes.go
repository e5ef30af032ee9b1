package cassandra

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// CreateMailbox implements store.Mailboxes. The head (log bucket 0) is
// written first, then the record that makes the mailbox reachable, both by
// LWT: a crash in between leaves only an unreachable head, which the purge
// drops (strays.go). A creation whose name another mailbox has drops its
// head itself.
func (b *Backend) CreateMailbox(ctx context.Context, mb store.Mailbox) error {
	op := "create mailbox " + mb.Name
	h := store.EmptyHead()
	_, _, err := b.cas(ctx, op, b.q.headInsert,
		[]any{mb.ID, int64(0), int64(h.UIDNext), int64(h.ModSeq), h.Messages, h.Unseen, h.Deleted, h.Size},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			_, ok, err := b.readBucket(ctx, c, mb.ID, 0)
			return ok, err
		})
	if err != nil {
		return err
	}
	applied, err := b.insertRecord(ctx, op, mb)
	switch {
	case errors.Is(err, errSealed):
		// The user was deleted (DeleteUser sealed its records).
		b.dropHead(ctx, op, mb, "its user was deleted")
		return err
	case err != nil:
		return err
	case !applied:
		// Another mailbox has the name.
		b.dropHead(ctx, op, mb, "another mailbox has its name")
		return fmt.Errorf("%w: %s", mail.ErrMailboxExists, mb.Name)
	}
	return nil
}

// dropHead drops the head of a creation whose record was refused: it is
// under a fresh id no record names and nobody else knows, so it goes now
// rather than wait for the purge (strays.go), which finds it if this
// fails.
func (b *Backend) dropHead(ctx context.Context, op string, mb store.Mailbox, why string) {
	if err := b.exec(ctx, b.meta, b.del, op, b.q.dropLog, mb.ID, int64(0)); err != nil {
		b.log.Warn("cassandra: create mailbox: drop the head of a creation refused ("+why+"); the purge drops it later",
			"mailbox", mb.ID, "name", mb.Name, "user", mb.UserID, "err", err)
	}
}

// insertRecord writes the record of mailbox mb under mb.Name IF there is
// none, and returns whether it did. The condition carries the fence of
// the user's records (IF id = null AND fence = ?; fencedCAS): an attempt
// whose outcome is unknown is settled behind a fence advance, so one
// still queued on a silent coordinator can never land later, after the
// record was deleted, and bring back a name for a deleted mailbox.
func (b *Backend) insertRecord(ctx context.Context, op string, mb store.Mailbox) (bool, error) {
	return b.fencedCAS(ctx, fencedWrite{
		op: op,
		stmt: func(f int64) (string, []any) {
			return b.q.mboxInsert, []any{mb.ID, int64(mb.UIDValidity), mb.SpecialUse, mb.Created, mb.UserID, mb.Name, fenceArg(f)}
		},
		readFence: func(ctx context.Context) (int64, error) {
			return b.readFence(ctx, op, b.q.mboxFenceGet, mb.UserID)
		},
		advance: func(ctx context.Context, c gocql.Consistency) error {
			return b.fenceRecords(ctx, c, mb.UserID)
		},
		landed: func(ctx context.Context, c gocql.Consistency) (bool, error) {
			id, err := b.mailboxIDSerial(ctx, c, mb.UserID, mb.Name)
			return err == nil && id == mb.ID, err
		},
		// A record is there: ours, if an earlier attempt landed after
		// all, or another mailbox's.
		failed: func(cur map[string]any) bool {
			id, _ := cur["id"].(string)
			return id == mb.ID
		},
	})
}

func (b *Backend) mailboxIDSerial(ctx context.Context, c gocql.Consistency, userID, name string) (string, error) {
	var id string
	err := b.serialGet(ctx, c, b.q.mboxGetSerial, []any{userID, name}, &id)
	return id, err
}

// Mailbox implements store.Mailboxes.
func (b *Backend) Mailbox(ctx context.Context, userID, name string) (store.Mailbox, error) {
	mb := store.Mailbox{UserID: userID, Name: name}
	var uv int64
	ok, err := b.get(ctx, b.meta, "read mailbox "+name, b.q.mboxGet, []any{userID, name},
		&mb.ID, &uv, &mb.SpecialUse, &mb.Created)
	if err != nil {
		return store.Mailbox{}, err
	}
	if !ok {
		return store.Mailbox{}, fmt.Errorf("%w: %s", mail.ErrNoSuchMailbox, name)
	}
	mb.UIDValidity, mb.Created = uint32(uv), mb.Created.UTC()
	return mb, nil
}

// ListMailboxes implements store.Mailboxes.
func (b *Backend) ListMailboxes(ctx context.Context, userID string) ([]store.Mailbox, error) {
	var out []store.Mailbox
	err := b.scan(ctx, b.meta, "list mailboxes", b.q.mboxList, []any{userID}, func() { out = out[:0] },
		func(sc gocql.Scanner) error {
			mb := store.Mailbox{UserID: userID}
			var uv int64
			if err := sc.Scan(&mb.Name, &mb.ID, &uv, &mb.SpecialUse, &mb.Created); err != nil {
				return err
			}
			if mb.ID == "" {
				return nil // the partition's fence alone (insertRecord)
			}
			mb.UIDValidity, mb.Created = uint32(uv), mb.Created.UTC()
			out = append(out, mb)
			return nil
		})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RenameMailbox implements store.Mailboxes: the record is inserted under
// the new name if there is none (insertRecord), then the old one is
// deleted IF it still holds mb's id. An interruption in between leaves
// both names pointing at one mailbox, never neither; renaming again
// completes it.
func (b *Backend) RenameMailbox(ctx context.Context, mb store.Mailbox, newName string) error {
	cur, err := b.Mailbox(ctx, mb.UserID, mb.Name)
	if err != nil {
		return err
	}
	if cur.ID != mb.ID {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchMailbox, mb.Name)
	}
	op := "rename mailbox " + mb.Name
	renamed := cur
	renamed.Name = newName
	applied, err := b.insertRecord(ctx, op, renamed)
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrMailboxExists, newName)
	}
	_, err = b.deleteRecord(ctx, op, mb.UserID, mb.Name, mb.ID)
	return err
}

// deleteRecord deletes the mailbox record name IF it holds id.
func (b *Backend) deleteRecord(ctx context.Context, op, userID, name, id string) (bool, error) {
	applied, _, err := b.cas(ctx, op, b.q.mboxDelete, []any{userID, name, id},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			got, err := b.mailboxIDSerial(ctx, c, userID, name)
			if err == gocql.ErrNotFound {
				return true, nil
			}
			return err == nil && got != id, err
		})
	return applied, err
}

// DeleteMailbox implements store.Mailboxes: the mailbox is listed for the
// purge (gone_mailboxes), the record goes, then the log is marked gone, so
// a session still holding the mailbox gets mail.ErrNoSuchMailbox instead
// of writing into the void. The purge drops the rest (purge_mailboxes.go).
func (b *Backend) DeleteMailbox(ctx context.Context, mb store.Mailbox) error {
	if err := b.listGone(ctx, mb.ID); err != nil {
		return err
	}
	applied, err := b.deleteRecord(ctx, "delete mailbox "+mb.Name, mb.UserID, mb.Name, mb.ID)
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchMailbox, mb.Name)
	}
	return b.markGone(ctx, mb.ID)
}

// markGone seals the mailbox's current log bucket with gone = true: every
// later Commit fails and Head says mail.ErrNoSuchMailbox.
func (b *Backend) markGone(ctx context.Context, mailboxID string) error {
	op := "delete mailbox " + mailboxID
	for range 16 {
		st, err := b.current(ctx, mailboxID)
		if errors.Is(err, mail.ErrNoSuchMailbox) {
			return nil
		}
		if err != nil {
			return err
		}
		applied, _, err := b.cas(ctx, op, b.q.headGone, []any{mailboxID, st.bucket},
			func(ctx context.Context, c gocql.Consistency) (bool, error) {
				got, ok, err := b.readBucket(ctx, c, mailboxID, st.bucket)
				return ok && got.gone, err
			})
		if err != nil {
			return err
		}
		if applied {
			b.heads.drop(mailboxID)
			return nil
		}
		time.Sleep(5 * time.Millisecond) // a roll sealed it first; follow it
	}
	return mail.Unavailable("cassandra: "+op, errors.New("the mailbox's log keeps moving"))
}

// SetSubscribed implements store.Mailboxes.
func (b *Backend) SetSubscribed(ctx context.Context, userID, name string, on bool) error {
	if on {
		return b.exec(ctx, b.meta, b.write, "subscribe "+name, b.q.subInsert, userID, name)
	}
	return b.exec(ctx, b.meta, b.del, "unsubscribe "+name, b.q.subDelete, userID, name)
}

// Subscriptions implements store.Mailboxes.
func (b *Backend) Subscriptions(ctx context.Context, userID string) ([]string, error) {
	var out []string
	err := b.scan(ctx, b.meta, "list subscriptions", b.q.subList, []any{userID}, func() { out = out[:0] },
		func(sc gocql.Scanner) error {
			var n string
			if err := sc.Scan(&n); err != nil {
				return err
			}
			out = append(out, n)
			return nil
		})
	return out, err
}
