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
	// PasswordHash creates the user when missing (a hash as Dovecot's
	// passdb holds it: quire user add --password-hash takes the same).
	PasswordHash string
	// Progress, when set, is told how far each folder is (not over the
	// admin API: a server's import reports at its end).
	Progress Progress `json:"-"`
}

// ErrLayoutFS is returned for a Maildir tree in Dovecot's LAYOUT=fs.
var ErrLayoutFS = errors.New("backup: this Maildir uses Dovecot's LAYOUT=fs (folders as plain subdirectories); only Maildir++ (.a.b folders, Dovecot's default) is imported: copy it into a Maildir++ location first (doveadm sync, or mbsync)")

// Import adds a Maildir++ tree as Dovecot writes it (dir: the user's
// Maildir, with dovecot-uidlist, dovecot-keywords and subscriptions) to
// the user address, keeping each folder's UIDVALIDITY, UIDs and UIDNEXT,
// flags and keywords, INTERNALDATEs (file times) and subscriptions. A
// missing user is created with opt.PasswordHash and every folder's
// UIDVALIDITY, INBOX's included; an existing user's INBOX keeps its own
// UIDVALIDITY (INBOX cannot be replaced; see Restore), so import into a
// new user to keep INBOX's too. Messages go through
// the store's append path (AppendAt), so they are converted and indexed
// like delivered mail, and share bodies with mail already stored.
//
// An import is resumable: run again after an interruption, it skips in
// each mailbox of the folder's UIDVALIDITY the UIDs below the mailbox's
// UIDNEXT (imported by the earlier run, batch by batch in UID order) and
// imports the rest. A mailbox that holds mail under another UIDVALIDITY
// gets the folder's messages as a restore would (UIDs offset above its
// own, bodies it holds skipped).
func Import(ctx context.Context, s *store.Store, address, dir string, opt ImportOptions) (Report, error) {
	if err := refuseLayoutFS(dir); err != nil {
		return Report{}, err
	}
	meta, err := readMeta(dir)
	if err != nil {
		return Report{}, err
	}
	u, err := s.User(ctx, address)
	created := false
	if errors.Is(err, mail.ErrNoSuchUser) {
		if opt.PasswordHash == "" {
			return Report{}, fmt.Errorf("%w: give its password hash (--password-hash) to create it with the Maildir's UIDVALIDITYs, or create it with quire user add", err)
		}
		u, err = createImported(ctx, s, address, dir, opt.PasswordHash)
		created = true
	}
	if err != nil {
		return Report{}, err
	}
	rep, err := restoreTree(ctx, s, u, dir, meta, 0, true, opt.Progress)
	if err != nil || !created {
		return rep, err
	}
	// A user made for the import has the Maildir's subscriptions, not the
	// defaults a new user gets: a client sees the folders it subscribed.
	keep, err := readSubscriptions(dir)
	if err != nil {
		return rep, err
	}
	have, err := s.Subscriptions(ctx, u)
	if err != nil {
		return rep, err
	}
	for _, name := range have {
		if !slices.Contains(keep, name) {
			if err := s.SetSubscribed(ctx, u, name, false); err != nil {
				return rep, fmt.Errorf("backup: unsubscribe %s: %w", name, err)
			}
		}
	}
	return rep, nil
}

// createImported creates the user with each folder's UIDVALIDITY.
func createImported(ctx context.Context, s *store.Store, address, dir, hash string) (store.User, error) {
	names, err := maildir.Folders(dir)
	if err != nil {
		return store.User{}, err
	}
	uv := make(map[string]uint32, len(names))
	for _, name := range names {
		f, err := maildir.ReadFolder(filepath.Join(dir, maildir.FolderDir(name)))
		if err != nil {
			return store.User{}, err
		}
		mm := MailboxMeta{Name: name, UIDValidity: f.UIDList.UIDValidity, UIDNext: f.UIDList.UIDNext}
		if keepUIDs(mm, len(f.Messages) > 0, 0) {
			uv[name] = mm.UIDValidity
		} else {
			uv[name] = above(uint32(time.Now().Unix()), mm)
		}
	}
	return s.CreateUserAt(ctx, address, hash, uv)
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
