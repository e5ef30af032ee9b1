package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MetaFile is the name of the archive's metadata file, in its root.
const MetaFile = "quire-backup.json"

// metaVersion is the version of the metadata file this package writes and
// reads.
const metaVersion = 1

// Meta is quire-backup.json: what Maildir cannot hold.
type Meta struct {
	Version       int           `json:"version"`
	Address       string        `json:"address"`
	PasswordHash  string        `json:"password_hash,omitempty"` // recreates a missing user
	Exported      time.Time     `json:"exported"`
	QuotaStorage  int64         `json:"quota_storage"`
	QuotaMessages int64         `json:"quota_messages"`
	Mailboxes     []MailboxMeta `json:"mailboxes"`
}

// MailboxMeta is one mailbox's part of Meta.
type MailboxMeta struct {
	Name          string        `json:"name"`
	SpecialUse    string        `json:"special_use,omitempty"`
	UIDValidity   uint32        `json:"uidvalidity"`
	UIDNext       uint32        `json:"uidnext"`
	HighestModSeq uint64        `json:"highestmodseq"`
	Messages      []MessageMeta `json:"messages,omitempty"`
}

// MessageMeta is one message's part of Meta, by UID.
type MessageMeta struct {
	UID        uint32   `json:"uid"`
	ModSeq     uint64   `json:"modseq"`
	EmailID    string   `json:"emailid,omitempty"`
	ReturnPath string   `json:"return_path,omitempty"`
	Flags      []string `json:"flags,omitempty"` // keywords the file name cannot carry
}

// readMeta reads dir's metadata file; a directory without one (a Maildir
// Dovecot wrote) gives a zero Meta.
func readMeta(dir string) (Meta, error) {
	var m Meta
	data, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("backup: %w", err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("backup: %s: %w", MetaFile, err)
	}
	if m.Version != metaVersion {
		return m, fmt.Errorf("backup: %s: version %d; this quire reads version %d", MetaFile, m.Version, metaVersion)
	}
	return m, nil
}

// mailbox returns the metadata of the mailbox name.
func (m Meta) mailbox(name string) (MailboxMeta, bool) {
	for _, mb := range m.Mailboxes {
		if mb.Name == name {
			return mb, true
		}
	}
	return MailboxMeta{}, false
}
