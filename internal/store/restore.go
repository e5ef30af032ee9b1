package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// A restore (internal/backup) puts back messages with the UIDs they had,
// which Append, allocating UIDs itself, cannot do. The two methods here are
// that path, and keep the invariants of this package:
//
//   - CreateMailboxAt creates a mailbox with a UIDVALIDITY the caller
//     gives: the one the mailbox had when it was exported, so that a
//     client's cache of it stays valid (RFC 9051 2.3.1.1 requires only
//     that a mailbox's UIDVALIDITY change when its UIDs do not persist).
//   - AppendAt commits messages with given UIDs, strictly ascending and
//     at or above the mailbox's UIDNEXT, so UIDs still only go up; UIDNEXT
//     becomes at least the caller's, and every MODSEQ it assigns is above
//     both the mailbox's HIGHESTMODSEQ and the caller's floor, so that no
//     client sees a MODSEQ go back either.

// ErrUIDOrder is returned by AppendAt for UIDs not strictly ascending from
// the mailbox's UIDNEXT.
var ErrUIDOrder = errors.New("store: restored UIDs must ascend strictly from the mailbox's UIDNEXT")

// CreateMailboxAt creates a mailbox named name with the given UIDVALIDITY,
// which must not be 0.
func (s *Store) CreateMailboxAt(ctx context.Context, u User, name, specialUse string, uidValidity uint32) (Mailbox, error) {
	if uidValidity == 0 {
		return Mailbox{}, errors.New("store: create mailbox: UIDVALIDITY 0 is not valid (RFC 9051 2.3.1.1)")
	}
	name, err := CanonicalMailboxName(name)
	if err != nil {
		return Mailbox{}, err
	}
	mb := Mailbox{ID: newID(), UserID: u.ID, Name: name, UIDValidity: uidValidity, SpecialUse: specialUse,
		Created: s.opts.Now().UTC().Truncate(timeUnit)}
	if err := s.b.CreateMailbox(ctx, mb); err != nil {
		return Mailbox{}, err
	}
	mb.MailHost = u.MailHost
	s.publish(mb, 0)
	return mb, nil
}

// RestoredMessage is a message AppendAt files under a given UID.
type RestoredMessage struct {
	NewMessage
	UID mail.UID
}

// AppendAt adds msgs (at least one) to mb under their own UIDs, which
// must ascend strictly and start at or above mb's UIDNEXT (ErrUIDOrder
// otherwise, before anything is committed). Afterwards UIDNEXT is at least
// uidNext, and the MODSEQs of the new messages are above floor and the
// mailbox's HIGHESTMODSEQ. The owner's quota is not checked: a restore puts
// back what the user had. Up to Backend.MaxChangesPerCommit messages
// become visible in one Commit.
func (s *Store) AppendAt(ctx context.Context, mb Mailbox, msgs []RestoredMessage, uidNext mail.UID, floor mail.ModSeq) error {
	if len(msgs) == 0 {
		return errors.New("store: restore: no messages (a Commit carries at least one change)")
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].UID <= msgs[i-1].UID {
			return fmt.Errorf("%w: %d follows %d", ErrUIDOrder, msgs[i].UID, msgs[i-1].UID)
		}
	}
	// The mark is written even without an index hook (a restore run by
	// the command line on Cassandra): a server's indexer sweeps marks and
	// indexes the restored messages.
	if err := s.markUnindexed(ctx, mb); err != nil {
		return err
	}
	var added []MessageRow // UIDs only: not a delivery, nothing is converted now
	if s.index != nil {
		defer func() {
			if len(added) > 0 {
				s.index.Added(ctx, mb, added, false)
			}
		}()
	}
	now := s.opts.Now().UTC().Truncate(timeUnit)
	step := max(1, s.b.MaxChangesPerCommit())
	for off := 0; off < len(msgs); off += step {
		chunk := msgs[off:min(off+step, len(msgs))]
		var head Head
		attempt := 0
		err := s.commitRetry(ctx, "store: restore", func() error {
			h, err := s.writerHead(ctx, mb.ID, &attempt)
			if err != nil {
				return err
			}
			if chunk[0].UID < h.UIDNext {
				return fmt.Errorf("%w: UID %d is below UIDNEXT %d of %s", ErrUIDOrder, chunk[0].UID, h.UIDNext, mb.Name)
			}
			next := h
			next.ModSeq = max(h.ModSeq, floor) + 1
			changes := make([]Change, 0, len(chunk))
			for _, m := range chunk {
				meta := m.meta(now)
				flags := storableFlags(m.Flags)
				next.add(meta.Size, flags, 1)
				next.UIDNext = m.UID + 1
				changes = append(changes, Change{ModSeq: next.ModSeq, UID: m.UID, Kind: ChangeAppend, Flags: flags, Meta: &meta})
			}
			if off+len(chunk) == len(msgs) {
				next.UIDNext = max(next.UIDNext, uidNext)
			}
			head = next
			return s.b.Commit(ctx, mb.ID, h, next, changes)
		})
		if err != nil {
			return err
		}
		for _, m := range chunk {
			added = append(added, MessageRow{UID: m.UID})
		}
		s.usage.committed(mb.UserID, mb.ID, head)
		s.publish(mb, head.ModSeq)
	}
	return nil
}

// meta is the MessageMeta of m saved at now.
func (m NewMessage) meta(now time.Time) MessageMeta {
	date := m.InternalDate
	if date.IsZero() {
		date = now
	}
	id := m.EmailID
	if id == "" {
		id = "M" + newID()[:24]
	}
	return MessageMeta{Blob: m.Blob, Size: m.Size, InternalDate: date.UTC().Truncate(timeUnit), SaveDate: now,
		ReturnPath: m.ReturnPath, EmailID: id, Structure: m.Structure}
}
