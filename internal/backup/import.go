package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/maildir"
	"github.com/quiremail/quire/internal/store"
)

// ImportOptions configure an import.
type ImportOptions struct {
	// Source is what Import reads: "maildir" (the default), "mbox" or
	// "imap".
	Source string `json:"source,omitempty"`
	// PasswordHash creates the user when missing (a hash as Dovecot's
	// passdb holds it: quire user add --password-hash takes the same).
	PasswordHash string `json:"password_hash,omitempty"`
	// Mailbox is where an mbox file goes (INBOX when empty), or the
	// parent of an mbox tree's mailboxes (the top level when empty).
	Mailbox string `json:"mailbox,omitempty"`
	// MboxQuoting is how the mbox quotes "From " lines: "mboxrd" (the
	// default), "mboxo", or "none" (Dovecot's mbox; package mbox).
	MboxQuoting string `json:"mbox_quoting,omitempty"`
	// IMAP is the server an "imap" import reads.
	IMAP IMAPSource `json:"imap,omitzero"`
	// Progress, when set, is told how far each folder is (not over the
	// admin API: a server's import reports at its end).
	Progress Progress `json:"-"`
}

// ErrLayoutFS is returned for a Maildir tree in Dovecot's LAYOUT=fs.
var ErrLayoutFS = errors.New("backup: this Maildir uses Dovecot's LAYOUT=fs (folders as plain subdirectories); only Maildir++ (.a.b folders, Dovecot's default) is imported: copy it into a Maildir++ location first (doveadm sync, or mbsync)")

// Import adds mail from another server to the user address: with
// opt.Source "maildir" (or empty) the Maildir++ tree at path
// (importMaildir), with "mbox" the mbox file or tree at path
// (importMbox), with "imap" every mailbox of the server opt.IMAP
// (importIMAP; path is unused). Messages go through the store's append
// path (AppendAt), so they are converted and indexed like delivered mail,
// and share bodies with mail already stored. Every import is resumable:
// run again after an interruption, it adds what the earlier run did not.
func Import(ctx context.Context, s *store.Store, address, path string, opt ImportOptions) (Report, error) {
	switch opt.Source {
	case "", "maildir":
		return importMaildir(ctx, s, address, path, opt)
	case "mbox":
		u, created, err := importUser(ctx, s, address, opt.PasswordHash, func() (map[string]uint32, error) { return nil, nil })
		if err != nil {
			return Report{}, err
		}
		return importMbox(ctx, s, u, created, path, opt)
	case "imap":
		return importIMAP(ctx, s, address, opt)
	}
	return Report{}, fmt.Errorf("backup: import from %q: want maildir, mbox or imap", opt.Source)
}

// importUser returns the user address, creating it when missing with
// hash and the UIDVALIDITYs uv gives its default mailboxes.
func importUser(ctx context.Context, s *store.Store, address, hash string, uv func() (map[string]uint32, error)) (store.User, bool, error) {
	u, err := s.User(ctx, address)
	if !errors.Is(err, mail.ErrNoSuchUser) {
		return u, false, err
	}
	if hash == "" {
		return u, false, fmt.Errorf("%w: give its password hash (--password-hash) to create it with the source's UIDVALIDITYs, or create it with quire user add", err)
	}
	m, err := uv()
	if err != nil {
		return u, false, err
	}
	u, err = s.CreateUserAt(ctx, address, hash, m)
	return u, err == nil, err
}

// keepSubscriptions unsubscribes u, a user made for an import, from the
// default mailboxes the source did not subscribe: a client sees the
// folders it subscribed, not the defaults a new user gets.
func keepSubscriptions(ctx context.Context, s *store.Store, u store.User, keep []string) error {
	have, err := s.Subscriptions(ctx, u)
	if err != nil {
		return err
	}
	for _, name := range have {
		if !slices.Contains(keep, name) {
			if err := s.SetSubscribed(ctx, u, name, false); err != nil {
				return fmt.Errorf("backup: unsubscribe %s: %w", name, err)
			}
		}
	}
	return nil
}

// importMaildir adds a Maildir++ tree as Dovecot writes it (dir: the
// user's Maildir, with dovecot-uidlist, dovecot-keywords and
// subscriptions) to the user address, keeping each folder's UIDVALIDITY,
// UIDs and UIDNEXT, flags and keywords, INTERNALDATEs (file times) and
// subscriptions. A missing user is created with opt.PasswordHash and
// every folder's UIDVALIDITY, INBOX's included; an existing user's INBOX
// keeps its own UIDVALIDITY (INBOX cannot be replaced; see Restore), so
// import into a new user to keep INBOX's too.
//
// Run again after an interruption, it skips in each mailbox of the
// folder's UIDVALIDITY the UIDs below the mailbox's UIDNEXT (imported by
// the earlier run, batch by batch in UID order) and imports the rest. A
// mailbox that holds mail under another UIDVALIDITY gets the folder's
// messages as a restore would (UIDs offset above its own, bodies it holds
// skipped).
func importMaildir(ctx context.Context, s *store.Store, address, dir string, opt ImportOptions) (Report, error) {
	if err := refuseLayoutFS(dir); err != nil {
		return Report{}, err
	}
	meta, err := readMeta(dir)
	if err != nil {
		return Report{}, err
	}
	keep, err := readSubscriptions(dir)
	if err != nil {
		return Report{}, err
	}
	u, created, err := importUser(ctx, s, address, opt.PasswordHash, func() (map[string]uint32, error) { return maildirUIDValidities(dir) })
	if err != nil {
		return Report{}, err
	}
	if created {
		// Before any mail: an interrupted import leaves a user whose
		// subscriptions the next run (which finds it existing) completes.
		if err := keepSubscriptions(ctx, s, u, keep); err != nil {
			return Report{}, err
		}
	}
	return restoreTree(ctx, s, u, dir, meta, 0, true, opt.Progress)
}

// maildirUIDValidities gives each folder of the tree at dir the
// UIDVALIDITY a user made for its import gets.
func maildirUIDValidities(dir string) (map[string]uint32, error) {
	names, err := maildir.Folders(dir)
	if err != nil {
		return nil, err
	}
	uv := make(map[string]uint32, len(names))
	for _, name := range names {
		f, err := maildir.ReadFolder(filepath.Join(dir, maildir.FolderDir(name)))
		if err != nil {
			return nil, err
		}
		uv[name] = newUIDValidity(MailboxMeta{Name: name, UIDValidity: f.UIDList.UIDValidity, UIDNext: f.UIDList.UIDNext}, len(f.Messages) > 0)
	}
	return uv, nil
}

// newUIDValidity is the UIDVALIDITY a mailbox made for an imported one
// gets: the source's where its UIDs can be kept, a fresh one above it
// otherwise.
func newUIDValidity(mm MailboxMeta, hasMessages bool) uint32 {
	if keepUIDs(mm, hasMessages, 0) {
		return mm.UIDValidity
	}
	return above(uint32(time.Now().Unix()), mm)
}

// refuseLayoutFS returns ErrLayoutFS when dir has a folder as a plain
// subdirectory with cur/ (LAYOUT=fs), which Folders would not see.
func refuseLayoutFS(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("backup: import: %w", err)
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || n[0] == '.' || n == "cur" || n == "new" || n == "tmp" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(dir, n, "cur")); err == nil && fi.IsDir() {
			return fmt.Errorf("%w (%s)", ErrLayoutFS, filepath.Join(dir, n))
		}
	}
	return nil
}
