package backup

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// folder is one mailbox of what a restore or an import reads: a Maildir
// folder, an mbox file, or a mailbox of another IMAP server. Every source
// goes through importFolder, and so through the store's AppendAt: its
// mail is converted, indexed and stored once per body like delivered
// mail.
type folder struct {
	// meta names the mailbox, and gives its UIDVALIDITY (0 for a source
	// without UIDs: an mbox), UIDNEXT, HIGHESTMODSEQ and special use.
	meta MailboxMeta
	// msgs ascend by UID; a UID of 0 (an mbox's messages) means the
	// source has none, and the message gets the mailbox's next.
	msgs []sourceMessage
}

// sourceMessage is one message of a folder.
type sourceMessage struct {
	UID                 uint32
	Flags               []string
	Date                time.Time // INTERNALDATE; zero: the time of the import
	ReturnPath, EmailID string
	// open returns the message's bytes; it may add to Flags and set Date,
	// which some sources (an mbox's headers, a file's time) carry with
	// the bytes.
	open func(m *sourceMessage) (io.ReadCloser, error)
}

// importFolder adds the messages of f to u's mailbox of its name, as the
// package documentation describes, in batches of restoreBatch messages.
// With resume (an import), a mailbox of the folder's UIDVALIDITY takes
// only the UIDs at or above its UIDNEXT; for messages without UIDs, a
// mailbox that holds mail already skips as many copies of each body as
// it holds, and the rest get UIDs from its UIDNEXT on, so running an
// import of an mbox again resumes it too.
func importFolder(ctx context.Context, s *store.Store, u store.User, f folder, extra uint32, resume bool, progress Progress) (MailboxReport, error) {
	mm := f.meta
	uidNext, without := max(mm.UIDNext, 1), uint64(0)
	for _, m := range f.msgs {
		if m.UID != 0 {
			uidNext = max(uidNext, m.UID+1)
		} else {
			without++
		}
	}
	mm.UIDNext = uidNext
	name := mm.Name
	mb, offset, have, from, err := target(ctx, s, u, name, mm, len(f.msgs) > 0, extra, resume)
	if err != nil {
		return MailboxReport{}, err
	}
	if uint64(offset)+uint64(extra) > math.MaxUint32 {
		return MailboxReport{}, fmt.Errorf("the UID offset %d + %d passes 2^32-1", offset, extra)
	}
	offset += extra
	floor := mail.ModSeq(mm.HighestModSeq + uint64(extra))
	rep := MailboxReport{Name: name, UIDValidity: mb.UIDValidity, UIDOffset: offset}
	if last := max(uint64(uidNext), without+1); last+uint64(offset) > math.MaxUint32 {
		return rep, fmt.Errorf("UIDs up to %d with the offset %d pass 2^32-1: the mailbox cannot take them", last, offset)
	}
	auto := uint32(1) // the next UID for a message without one
	var batch []store.RestoredMessage
	for i := range f.msgs {
		// An interrupted import (a cancelled admin call: the command was
		// stopped) ends between messages; running it again resumes.
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("interrupted after %d messages: %w", rep.Messages, err)
		}
		m := &f.msgs[i]
		if m.UID != 0 && m.UID < from {
			rep.Skipped++ // imported by an earlier run
			continue
		}
		rm, err := readSource(ctx, s, m)
		if err != nil {
			return rep, err
		}
		if have[rm.Blob] > 0 {
			have[rm.Blob]--
			rep.Skipped++
			continue
		}
		uid := m.UID
		if uid == 0 {
			uid = auto
			auto++
		}
		rm.UID = mail.UID(uid + offset)
		// A full batch is committed once another message follows it, so
		// that the last AppendAt is the one that raises UIDNEXT.
		if len(batch) == restoreBatch {
			if err := s.AppendAt(ctx, mb, batch, 0, floor); err != nil {
				return rep, err
			}
			rep.Messages += len(batch)
			batch = batch[:0]
			progress.show(name, rep.Messages+rep.Skipped, len(f.msgs))
		}
		batch = append(batch, rm)
	}
	if len(batch) > 0 {
		if err := s.AppendAt(ctx, mb, batch, mail.UID(max(uidNext, auto)+offset), floor); err != nil {
			return rep, err
		}
		rep.Messages += len(batch)
	}
	progress.show(name, rep.Messages+rep.Skipped, len(f.msgs))
	return rep, nil
}

// readSource stores the body of m and returns it ready for AppendAt, its
// UID still to be set. A body the store holds already is not written
// again.
func readSource(ctx context.Context, s *store.Store, m *sourceMessage) (store.RestoredMessage, error) {
	r, err := m.open(m)
	if err != nil {
		return store.RestoredMessage{}, err
	}
	defer r.Close()
	sp, err := s.Spool(r, 0)
	if err != nil {
		return store.RestoredMessage{}, fmt.Errorf("backup: UID %d: %w", m.UID, err)
	}
	defer sp.Close()
	if err := s.PutBody(ctx, sp); err != nil {
		return store.RestoredMessage{}, err
	}
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	return store.RestoredMessage{NewMessage: store.NewMessage{
		Blob: sp.ID, Size: sp.Size, Structure: sp.Structure, InternalDate: date,
		Flags: mail.NewFlags(m.Flags...), ReturnPath: m.ReturnPath, EmailID: m.EmailID,
	}}, nil
}
