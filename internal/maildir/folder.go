package maildir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names of a folder's Dovecot metadata.
const (
	UIDListFile       = "dovecot-uidlist"
	KeywordsFile      = "dovecot-keywords"
	SubscriptionsFile = "subscriptions"
)

// CreateFolder makes the directory of mailbox name under root, with cur/,
// new/ and tmp/, and returns its path.
func CreateFolder(root, name string) (string, error) {
	dir := filepath.Join(root, FolderDir(name))
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return "", fmt.Errorf("maildir: create folder %s: %w", name, err)
		}
	}
	return dir, nil
}

// WriteMessage writes body to dir/cur/BASE:2,LETTERS and returns BASE:
// prefix (unique in the folder, without "," or ":") with ",S=<size>" and
// ",W=<size with CRLF line ends>" appended. The file goes through tmp/ as
// Maildir requires (a reader never sees a partial file), and gets mtime
// as its modification time (Dovecot's received date, IMAP's INTERNALDATE).
func WriteMessage(dir, prefix, letters string, body io.Reader, mtime time.Time) (string, error) {
	if prefix == "" || strings.ContainsAny(prefix, ",:/") {
		return "", fmt.Errorf("maildir: write message: prefix %q must be non-empty, without \",\", \":\" or \"/\"", prefix)
	}
	tmp := filepath.Join(dir, "tmp", prefix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("maildir: write message: %w", err)
	}
	cw := &crlfCounter{}
	size, err := io.Copy(io.MultiWriter(f, cw), body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chtimes(tmp, mtime, mtime)
	}
	base := fmt.Sprintf("%s,S=%d,W=%d", prefix, size, size+cw.bare)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, "cur", FileName(base, letters)))
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("maildir: write message %s: %w", prefix, err)
	}
	return base, nil
}

// crlfCounter counts the bare LFs (not after a CR) of what it is written:
// each adds a byte to the message's size with CRLF line ends.
type crlfCounter struct {
	bare   int64
	lastCR bool
}

func (c *crlfCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' && !c.lastCR {
			c.bare++
		}
		c.lastCR = b == '\r'
	}
	return len(p), nil
}

// WriteFile writes data to dir/name through a temporary file, so a reader
// sees the old file or the new one.
func WriteFile(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("maildir: write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("maildir: write %s: %w", name, err)
	}
	return nil
}

// Folders returns the mailbox names of the Maildir++ tree at root: INBOX
// when root has cur/, and every ".NAME" directory with cur/, sorted.
func Folders(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("maildir: list folders: %w", err)
	}
	var out []string
	if isDir(filepath.Join(root, "cur")) {
		out = append(out, "INBOX")
	}
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".") || e.Name() == "." || e.Name() == ".." ||
			!isDir(filepath.Join(root, e.Name(), "cur")) {
			continue
		}
		name, err := FolderName(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Message is a message file of a folder.
type Message struct {
	UID     uint32 // from dovecot-uidlist; 0 for a file it does not list
	Base    string
	Letters string
	Path    string
}

// Folder is a folder as read: its uidlist (zero if it has none), keywords
// and messages, those with a UID in ascending UID order, then those
// without by file name.
type Folder struct {
	UIDList  UIDList
	Keywords Keywords
	Messages []Message
}

// ReadFolder reads the folder at dir: dovecot-uidlist and dovecot-keywords
// if present, and the files of cur/ and new/.
func ReadFolder(dir string) (Folder, error) {
	var f Folder
	if data, err := os.ReadFile(filepath.Join(dir, UIDListFile)); err == nil {
		if f.UIDList, err = ParseUIDList(data); err != nil {
			return f, fmt.Errorf("%s: %w", dir, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, fmt.Errorf("maildir: %w", err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, KeywordsFile)); err == nil {
		if f.Keywords, err = ParseKeywords(data); err != nil {
			return f, fmt.Errorf("%s: %w", dir, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return f, fmt.Errorf("maildir: %w", err)
	}
	uids := make(map[string]uint32, len(f.UIDList.Entries))
	for _, e := range f.UIDList.Entries {
		uids[e.Base] = e.UID
	}
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			return f, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range ents {
			if !e.Type().IsRegular() {
				continue
			}
			base, letters, err := ParseFileName(e.Name())
			if err != nil {
				return f, fmt.Errorf("%s: %w", dir, err)
			}
			f.Messages = append(f.Messages, Message{UID: uids[base], Base: base, Letters: letters, Path: filepath.Join(dir, sub, e.Name())})
		}
	}
	slices.SortFunc(f.Messages, func(a, b Message) int {
		switch {
		case a.UID != b.UID && a.UID != 0 && b.UID != 0:
			return int(int64(a.UID) - int64(b.UID))
		case a.UID == 0 && b.UID != 0:
			return 1
		case b.UID == 0 && a.UID != 0:
			return -1
		}
		return strings.Compare(a.Base, b.Base)
	})
	return f, nil
}
