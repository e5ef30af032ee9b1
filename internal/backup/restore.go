package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/maildir"
	"github.com/quiremail/quire/internal/store"
)

// restoreBatch bounds the messages read and stored before one AppendAt
// makes them visible.
const restoreBatch = 64

// Options tune a restore.
type Options struct {
	// UIDOffset is added to every restored UID and UIDNEXT, and raises the
	// MODSEQs as much, on top of the offset a mailbox that has held
	// messages gets anyway: the disaster-recovery increment (James's
	// uid.modseq.increment) for an archive older than what clients saw,
	// such as one exported from a restored Cassandra snapshot. Archived
	// mailboxes without messages then get a fresh UIDVALIDITY, as nothing
	// can carry their raised UIDNEXT.
	UIDOffset uint32
}

// Restore adds the archive at dir to the mailboxes of the user address,
// as the package documentation describes; a missing user is recreated
// with the archive's password hash. The mailboxes
// are restored one at a time, each in batches of restoreBatch messages;
// an error leaves the batches before it restored, and running Restore
// again completes the work without duplicating them (the rest of such a
// mailbox then gets offset UIDs: it has held messages).
func Restore(ctx context.Context, s *store.Store, address, dir string, opt Options) (Report, error) {
	var rep Report
	meta, err := readMeta(dir)
	if err != nil {
		return rep, err
	}
	u, err := s.User(ctx, address)
	if errors.Is(err, mail.ErrNoSuchUser) && meta.PasswordHash == "" {
		return rep, fmt.Errorf("%w, and the archive has no password hash to recreate it: create it with quire user add", err)
	}
	if errors.Is(err, mail.ErrNoSuchUser) {
		// Recreated as it was: its default mailboxes, INBOX included (which
		// cannot be replaced later), get the archive's UIDVALIDITY.
		uv := make(map[string]uint32)
		for _, mm := range meta.Mailboxes {
			if keepUIDs(mm, len(mm.Messages) > 0, opt.UIDOffset) {
				uv[mm.Name] = mm.UIDValidity
			} else {
				uv[mm.Name] = above(uint32(time.Now().Unix()), mm)
			}
		}
		u, err = s.CreateUserAt(ctx, address, meta.PasswordHash, uv)
	}
	if err != nil {
		return rep, err
	}
	rep, err = restoreTree(ctx, s, u, dir, meta, opt.UIDOffset, false, nil)
	if err != nil {
		return rep, err
	}
	// The archive's quota applies where the user's is unlimited (0).
	q := u
	if q.QuotaStorage == 0 {
		q.QuotaStorage = meta.QuotaStorage
	}
	if q.QuotaMessages == 0 {
		q.QuotaMessages = meta.QuotaMessages
	}
	if q != u {
		if err := s.UpdateUser(ctx, q); err != nil {
			return rep, fmt.Errorf("backup: restore the quota: %w", err)
		}
	}
	return rep, nil
}

// restoreTree restores every folder of the tree at dir into u's
// mailboxes, and its subscriptions. With resume (an import), a mailbox
// that has the folder's UIDVALIDITY already takes only the UIDs at or
// above its UIDNEXT: the ones below were imported by an earlier run.
func restoreTree(ctx context.Context, s *store.Store, u store.User, dir string, meta Meta, extra uint32, resume bool, progress Progress) (Report, error) {
	var rep Report
	names, err := maildir.Folders(dir)
	if err != nil {
		return rep, err
	}
	for _, name := range names {
		// The metadata holds the true name where the folder's cannot
		// (maildir.FolderDir: a "." inside a level).
		for _, mm := range meta.Mailboxes {
			if maildir.FolderDir(mm.Name) == maildir.FolderDir(name) {
				name = mm.Name
			}
		}
		mr, err := restoreMailbox(ctx, s, u, dir, name, meta, extra, resume, progress)
		if err != nil {
			return rep, fmt.Errorf("backup: restore %s: %w", name, err)
		}
		rep.Mailboxes = append(rep.Mailboxes, mr)
	}
	subs, err := readSubscriptions(dir)
	if err != nil {
		return rep, err
	}
	for _, name := range subs {
		if err := s.SetSubscribed(ctx, u, name, true); err != nil {
			return rep, fmt.Errorf("backup: subscribe %s: %w", name, err)
		}
	}
	rep.Subscriptions = len(subs)
	return rep, nil
}

// restoreMailbox restores the Maildir folder of mailbox name.
func restoreMailbox(ctx context.Context, s *store.Store, u store.User, root, name string, meta Meta, extra uint32, resume bool, progress Progress) (MailboxReport, error) {
	f, err := maildirFolder(root, name, meta)
	if err != nil {
		return MailboxReport{}, err
	}
	return importFolder(ctx, s, u, f, extra, resume, progress)
}

// maildirFolder reads the Maildir folder of mailbox name as a source.
func maildirFolder(root, name string, meta Meta) (folder, error) {
	f, err := maildir.ReadFolder(filepath.Join(root, maildir.FolderDir(name)))
	if err != nil {
		return folder{}, err
	}
	mm, ok := meta.mailbox(name)
	if !ok {
		mm = MailboxMeta{Name: name, UIDValidity: f.UIDList.UIDValidity}
	}
	uidNext := max(mm.UIDNext, f.UIDList.UIDNext, 1)
	// Files the uidlist does not name (a Maildir Dovecot has not seen
	// since they arrived) get UIDs from UIDNEXT on, in file-name order.
	for i := range f.Messages {
		if f.Messages[i].UID == 0 {
			f.Messages[i].UID = uidNext
			uidNext++
		} else {
			uidNext = max(uidNext, f.Messages[i].UID+1)
		}
	}
	mm.UIDNext = uidNext
	byUID := make(map[uint32]MessageMeta, len(mm.Messages))
	for _, m := range mm.Messages {
		byUID[m.UID] = m
	}
	out := folder{meta: mm, msgs: make([]sourceMessage, 0, len(f.Messages))}
	for _, m := range f.Messages {
		flags, err := f.Keywords.Flags(m.Letters)
		if err != nil {
			return folder{}, fmt.Errorf("%s: %w", m.Path, err)
		}
		x := byUID[m.UID]
		out.msgs = append(out.msgs, sourceMessage{UID: m.UID, Flags: append(flags, x.Flags...), ReturnPath: x.ReturnPath, EmailID: x.EmailID,
			open: func(sm *sourceMessage) (io.ReadCloser, error) {
				file, err := os.Open(m.Path)
				if err != nil {
					return nil, fmt.Errorf("backup: %w", err)
				}
				fi, err := file.Stat()
				if err != nil {
					file.Close()
					return nil, fmt.Errorf("backup: %w", err)
				}
				sm.Date = fi.ModTime()
				return file, nil
			}})
	}
	return out, nil
}

// keepUIDs reports whether an archived mailbox is restored, where it
// can be, with its UIDVALIDITY and UIDs: not when its UIDVALIDITY is
// unknown, nor when it has no message to carry its UIDNEXT, or its UIDNEXT
// raised by the extra offset (AppendAt raises UIDNEXT with a commit of
// messages).
func keepUIDs(mm MailboxMeta, hasMessages bool, extra uint32) bool {
	return mm.UIDValidity != 0 && (hasMessages || (mm.UIDNext <= 1 && extra == 0))
}

// above returns fresh, a new UIDVALIDITY, raised above the archived
// mailbox's if need be: a mailbox whose UIDs do not persist must show
// clients a greater UIDVALIDITY (RFC 9051 2.3.1.1), and a fresh value can
// equal an archived one made in the same second on another store.
func above(fresh uint32, mm MailboxMeta) uint32 {
	if mm.UIDValidity < math.MaxUint32 {
		return max(fresh, mm.UIDValidity+1)
	}
	return fresh
}

// target finds or makes the mailbox an archived one is restored into, and
// returns it with the offset its UIDs get, the bodies it holds and how
// many times (as many copies of each are not restored again) and, when resuming into a mailbox of the archive's
// UIDVALIDITY, the first UID still to import (from; 0 otherwise).
func target(ctx context.Context, s *store.Store, u store.User, name string, mm MailboxMeta, hasMessages bool, extra uint32, resume bool) (mb store.Mailbox, offset uint32, have map[store.BlobID]int, from uint32, err error) {
	keep := keepUIDs(mm, hasMessages, extra)
	mb, err = s.Mailbox(ctx, u, name)
	if errors.Is(err, mail.ErrNoSuchMailbox) {
		uv := mm.UIDValidity
		if !keep {
			v, err := s.Backend().NextUIDValidity(ctx, u.ID)
			if err != nil {
				return mb, 0, nil, 0, err
			}
			uv = above(v, mm)
		}
		mb, err = s.CreateMailboxAt(ctx, u, name, mm.SpecialUse, uv)
		return mb, 0, nil, 0, err
	}
	if err != nil {
		return mb, 0, nil, 0, err
	}
	h, err := s.Status(ctx, mb)
	if err == nil && resume && h.UIDNext > 1 && mb.UIDValidity == mm.UIDValidity {
		return mb, 0, nil, uint32(h.UIDNext), nil
	}
	if err != nil {
		return mb, 0, nil, 0, err
	}
	if h.UIDNext == 1 && keep && hasMessages && mb.UIDValidity != mm.UIDValidity && name != "INBOX" {
		// Never held a message ("quire user add" made it): it becomes the
		// archived mailbox, UIDVALIDITY included. (INBOX cannot be
		// deleted, and deliveries cache it: it keeps its UIDVALIDITY, and
		// the archive's UIDs, as its UIDNEXT is 1.)
		use := mm.SpecialUse
		if use == "" {
			use = mb.SpecialUse
		}
		if err := s.DeleteMailbox(ctx, mb); err != nil {
			return mb, 0, nil, 0, err
		}
		mb, err = s.CreateMailboxAt(ctx, u, name, use, mm.UIDValidity)
		return mb, 0, nil, 0, err
	}
	have = make(map[store.BlobID]int)
	err = s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		have[r.Meta.Blob]++
		return nil
	})
	return mb, uint32(h.UIDNext) - 1, have, 0, err
}

// readSubscriptions reads the tree's subscriptions file; a tree without
// one has none.
func readSubscriptions(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, maildir.SubscriptionsFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return maildir.ParseSubscriptions(data)
}

// Progress is told, after each batch, how many of a folder's messages
// are done (imported or skipped) of how many; nil tells nobody.
type Progress func(mailbox string, done, total int)

func (p Progress) show(mailbox string, done, total int) {
	if p != nil {
		p(mailbox, done, total)
	}
}
