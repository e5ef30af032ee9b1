package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mbox"
	"github.com/quiremail/quire/internal/store"
)

// importMbox adds the mbox file or tree at path to u's mailboxes (Import
// with opt.Source "mbox").
//
// A file goes into the mailbox opt.Mailbox (INBOX when empty). In a tree
// (a directory), every file is a mailbox named by its path below the
// directory, "/" between levels, each level's modified UTF-7 (RFC 3501
// 5.1.3; Dovecot's mbox file names) decoded where it is that, under opt.Mailbox when given;
// a file named INBOX in the top directory is INBOX, and a Thunderbird
// "NAME.sbd" directory holds the children of NAME. Dot files (Dovecot's
// .subscriptions and .imap index, mutt's caches), Thunderbird's .msf
// indexes and Dovecot's dovecot.index* files are not mail and are left
// out; any other file must be an mbox (an error names the one that is
// not). The tree's subscriptions (Dovecot's .subscriptions in its root)
// are added; a user created for the import (created) has only those
// (without the file, the defaults a new user gets).
//
// mbox has no UIDs: a new mailbox gets a fresh UIDVALIDITY and UIDs from
// 1 in file order. Run again after an interruption, a mailbox that holds
// mail already is not duplicated: as many copies of each body as it
// holds are skipped, the rest appended after them.
func importMbox(ctx context.Context, s *store.Store, u store.User, created bool, path string, opt ImportOptions) (Report, error) {
	var rep Report
	q, err := quoting(opt.MboxQuoting)
	if err != nil {
		return rep, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return rep, fmt.Errorf("backup: import mbox: %w", err)
	}
	type file struct{ path, name string }
	var files []file
	if !fi.IsDir() {
		name := opt.Mailbox
		if name == "" {
			name = "INBOX"
		}
		files = append(files, file{path, name})
	} else {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			base := d.Name()
			if p == path {
				return nil
			}
			if strings.HasPrefix(base, ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || strings.HasSuffix(base, ".msf") || strings.HasPrefix(base, "dovecot.") || strings.HasPrefix(base, "dovecot-") {
				return nil
			}
			rel, err := filepath.Rel(path, p)
			if err != nil {
				return err
			}
			files = append(files, file{p, mboxName(rel, opt.Mailbox)})
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("backup: import mbox: %w", err)
		}
	}
	var subs []string
	hasSubs := false
	if fi.IsDir() {
		data, err := os.ReadFile(filepath.Join(path, mbox.SubscriptionsFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("backup: import mbox: %w", err)
		}
		hasSubs = err == nil
		for _, name := range mbox.ParseSubscriptions(data) {
			subs = append(subs, mboxName(filepath.FromSlash(name), opt.Mailbox))
		}
	}
	if created && hasSubs {
		// Before any mail, as the other imports do.
		if err := keepSubscriptions(ctx, s, u, subs); err != nil {
			return rep, err
		}
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	for _, f := range files {
		mr, err := importMboxFile(ctx, s, u, f.path, f.name, q, opt.Progress)
		if err != nil {
			return rep, fmt.Errorf("backup: import %s into %s: %w", f.path, f.name, err)
		}
		rep.Mailboxes = append(rep.Mailboxes, mr)
	}
	for _, name := range subs {
		if err := s.SetSubscribed(ctx, u, name, true); err != nil {
			return rep, fmt.Errorf("backup: subscribe %s: %w", name, err)
		}
	}
	rep.Subscriptions = len(subs)
	return rep, nil
}

// quoting reads ImportOptions.MboxQuoting.
func quoting(s string) (mbox.Quoting, error) {
	switch s {
	case "", "mboxrd":
		return mbox.MboxRD, nil
	case "mboxo":
		return mbox.MboxO, nil
	case "none":
		return mbox.NoQuoting, nil
	}
	return 0, fmt.Errorf("backup: mbox quoting %q: want mboxrd, mboxo or none", s)
}

// mboxName is the mailbox of the file at rel in an mbox tree.
func mboxName(rel, parent string) string {
	levels := strings.Split(filepath.ToSlash(rel), "/")
	for i, l := range levels {
		if i < len(levels)-1 {
			l = strings.TrimSuffix(l, ".sbd")
		}
		if d, err := imapwire.DecodeMailbox(l); err == nil {
			l = d // else UTF-8 already (Dovecot's UTF-8 file names)
		}
		levels[i] = l
	}
	name := strings.Join(levels, store.Separator)
	if parent != "" {
		return parent + store.Separator + name
	}
	if strings.EqualFold(name, "INBOX") {
		return "INBOX"
	}
	return name
}

// importMboxFile adds the messages of one mbox file to the mailbox name.
func importMboxFile(ctx context.Context, s *store.Store, u store.User, path, name string, q mbox.Quoting, progress Progress) (MailboxReport, error) {
	file, err := os.Open(path)
	if err != nil {
		return MailboxReport{}, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return MailboxReport{}, err
	}
	var msgs []mbox.Message
	if fi.Size() > 0 {
		if msgs, err = mbox.Scan(file, fi.Size()); err != nil {
			return MailboxReport{}, err
		}
	}
	f := folder{meta: MailboxMeta{Name: name}}
	for i, m := range msgs {
		if i == 0 {
			// UW-IMAP's and Dovecot's pseudo message is not mail.
			raw, err := readSection(file, m)
			if err != nil {
				return MailboxReport{}, err
			}
			if mbox.Parse(raw, q).Pseudo {
				continue
			}
		}
		f.msgs = append(f.msgs, sourceMessage{Date: m.Date, open: func(sm *sourceMessage) (io.ReadCloser, error) {
			raw, err := readSection(file, m)
			if err != nil {
				return nil, err
			}
			p := mbox.Parse(raw, q)
			sm.Flags = p.Flags
			return io.NopCloser(bytes.NewReader(p.Body)), nil
		}})
	}
	return importFolder(ctx, s, u, f, 0, true, progress)
}

// readSection reads the bytes of one message of an mbox file.
func readSection(file *os.File, m mbox.Message) ([]byte, error) {
	raw := make([]byte, m.End-m.Start)
	if _, err := file.ReadAt(raw, m.Start); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("backup: reading %s at %d: %w", file.Name(), m.Start, err)
	}
	return raw, nil
}
