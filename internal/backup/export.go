package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/quiremail/quire/internal/maildir"
	"github.com/quiremail/quire/internal/store"
)

// Report says what an export or a restore did, mailbox by mailbox.
type Report struct {
	Mailboxes     []MailboxReport `json:"mailboxes"`
	Subscriptions int             `json:"subscriptions"`
}

// MailboxReport is one mailbox's line of a Report.
type MailboxReport struct {
	Name        string `json:"name"`
	Messages    int    `json:"messages"`          // exported, or restored
	Skipped     int    `json:"skipped,omitempty"` // restore: bodies the mailbox held already
	UIDValidity uint32 `json:"uidvalidity"`
	UIDOffset   uint32 `json:"uid_offset"` // restore: added to the archive's UIDs
}

// Export writes the user address's mailboxes to dir, which must not exist
// or be empty; its parent must exist. On an error dir holds a partial
// archive, without MetaFile (written last).
func Export(ctx context.Context, s *store.Store, address, dir string) (Report, error) {
	var rep Report
	u, err := s.User(ctx, address)
	if err != nil {
		return rep, err
	}
	if err := emptyDir(dir); err != nil {
		return rep, err
	}
	mbs, err := s.Mailboxes(ctx, u)
	if err != nil {
		return rep, err
	}
	meta := Meta{Version: metaVersion, Address: u.Address, PasswordHash: u.PasswordHash, QuotaStorage: u.QuotaStorage, QuotaMessages: u.QuotaMessages}
	for _, mb := range mbs {
		mm, n, err := exportMailbox(ctx, s, mb, dir)
		if err != nil {
			return rep, fmt.Errorf("backup: export %s: %w", mb.Name, err)
		}
		meta.Mailboxes = append(meta.Mailboxes, mm)
		rep.Mailboxes = append(rep.Mailboxes, MailboxReport{Name: mb.Name, Messages: n, UIDValidity: mb.UIDValidity})
	}
	subs, err := s.Subscriptions(ctx, u)
	if err != nil {
		return rep, err
	}
	if err := maildir.WriteFile(dir, maildir.SubscriptionsFile, maildir.MarshalSubscriptions(subs)); err != nil {
		return rep, err
	}
	rep.Subscriptions = len(subs)
	meta.Exported = time.Now().UTC().Truncate(time.Second)
	data, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return rep, err
	}
	return rep, maildir.WriteFile(dir, MetaFile, append(data, '\n'))
}

// emptyDir makes dir, or checks that it is an empty directory.
func emptyDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err == nil || !errors.Is(err, os.ErrExist) {
		if err != nil {
			return fmt.Errorf("backup: create the archive directory: %w", err)
		}
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("backup: %s is not empty: export into a new directory", dir)
	}
	return nil
}

// exportMailbox writes mb's folder and returns its metadata and message
// count. The head is read first: every message then listed has a UID
// below its UIDNEXT, and a message added meanwhile raises UIDNEXT in the
// uidlist to stay consistent.
func exportMailbox(ctx context.Context, s *store.Store, mb store.Mailbox, root string) (MailboxMeta, int, error) {
	h, err := s.Status(ctx, mb)
	if err != nil {
		return MailboxMeta{}, 0, err
	}
	dir, err := maildir.CreateFolder(root, mb.Name)
	if err != nil {
		return MailboxMeta{}, 0, err
	}
	mm := MailboxMeta{Name: mb.Name, SpecialUse: mb.SpecialUse, UIDValidity: mb.UIDValidity,
		UIDNext: uint32(h.UIDNext), HighestModSeq: uint64(h.ModSeq)}
	list := maildir.UIDList{UIDValidity: mb.UIDValidity, GUID: guid(mb.ID)}
	var kw maildir.Keywords
	err = s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		letters, rest := kw.Letters(r.Flags)
		base, err := writeBody(ctx, s, dir, mb, r, letters)
		if err != nil {
			return fmt.Errorf("UID %d: %w", r.UID, err)
		}
		list.Entries = append(list.Entries, maildir.UIDEntry{UID: uint32(r.UID), Base: base})
		mm.Messages = append(mm.Messages, MessageMeta{UID: uint32(r.UID), ModSeq: uint64(r.ModSeq),
			EmailID: r.Meta.EmailID, ReturnPath: r.Meta.ReturnPath, Flags: rest})
		mm.UIDNext = max(mm.UIDNext, uint32(r.UID)+1)
		mm.HighestModSeq = max(mm.HighestModSeq, uint64(r.ModSeq))
		return nil
	})
	if err != nil {
		return mm, 0, err
	}
	list.UIDNext = mm.UIDNext
	if err := maildir.WriteFile(dir, maildir.KeywordsFile, kw.Marshal()); err != nil {
		return mm, 0, err
	}
	return mm, len(list.Entries), maildir.WriteFile(dir, maildir.UIDListFile, list.Marshal())
}

// writeBody copies a message's body into the folder and returns its base
// name: "<internaldate>.Q<uid>V<uidvalidity>.quire" with sizes.
func writeBody(ctx context.Context, s *store.Store, dir string, mb store.Mailbox, r store.MessageRow, letters string) (string, error) {
	b, err := s.OpenBody(ctx, r.Meta)
	if err != nil {
		return "", err
	}
	defer b.Close()
	prefix := fmt.Sprintf("%d.Q%dV%d.quire", r.Meta.InternalDate.Unix(), r.UID, mb.UIDValidity)
	return maildir.WriteMessage(dir, prefix, letters, io.NewSectionReader(b, 0, b.Size()), r.Meta.InternalDate)
}

// guid is a mailbox's 128-bit GUID for dovecot-uidlist, derived from its
// ID (never reused) so that every export of a mailbox names it alike.
func guid(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}
