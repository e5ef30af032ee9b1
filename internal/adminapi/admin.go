// Package adminapi is the administration surface of a store: users, quotas
// and mailbox summaries. The same Admin interface is served three ways: Local
// works on a store directly (Cassandra, or an embedded store no server has
// open), Handler serves it over HTTP on the server's http.listen address, and
// Remote calls that handler. The command line therefore works while the
// server runs, on the embedded backend too, where the server owns the data
// directory.
//
// Invariants: passwords cross this API only as hashes; every HTTP request
// carries the bearer token the server wrote to its data directory (mode
// 0600), compared in constant time.
package adminapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/store"
)

// UserInfo is a user as the admin commands show it.
type UserInfo struct {
	Address       string `json:"address"`
	ID            string `json:"id"`
	QuotaStorage  int64  `json:"quota_storage"`
	QuotaMessages int64  `json:"quota_messages"`
	MailHost      string `json:"mailhost,omitempty"`
}

// MailboxInfo summarises one mailbox.
type MailboxInfo struct {
	Name          string `json:"name"`
	SpecialUse    string `json:"special_use,omitempty"`
	Messages      int64  `json:"messages"`
	Unseen        int64  `json:"unseen"`
	Size          int64  `json:"size"`
	UIDValidity   uint32 `json:"uidvalidity"`
	UIDNext       uint32 `json:"uidnext"`
	HighestModSeq uint64 `json:"highestmodseq"`
}

// Admin is what the admin commands can do.
type Admin interface {
	AddUser(ctx context.Context, address, passwordHash string) (UserInfo, error)
	DeleteUser(ctx context.Context, address string) error
	ListUsers(ctx context.Context) ([]UserInfo, error)
	SetPassword(ctx context.Context, address, passwordHash string) error
	// SetQuota sets limits; a negative value leaves that limit unchanged.
	SetQuota(ctx context.Context, address string, storage, messages int64) error
	// SetMailHost sets the user's mailHost: the store affinity group, or a
	// host of it, that serves the user ("" for this host's group).
	SetMailHost(ctx context.Context, address, mailHost string) error
	Mailboxes(ctx context.Context, address string) ([]MailboxInfo, error)
	// Export writes the user's mailboxes to dir, a directory path on the
	// host of the store's user (the server's host, for Remote) that must
	// not exist or be empty (internal/backup).
	Export(ctx context.Context, address, dir string) (backup.Report, error)
	// Restore adds the archive at dir to the user's mailboxes.
	Restore(ctx context.Context, address, dir string, opt backup.Options) (backup.Report, error)
	// Import adds mail from another server to the user's mailboxes,
	// creating the user if missing: the Dovecot Maildir or the mbox at
	// path (on the store's host, like Export's directory), or the IMAP
	// server opt.IMAP (its password file on the store's host too).
	Import(ctx context.Context, address, dir string, opt backup.ImportOptions) (backup.Report, error)
}

// Local returns an Admin that works on s directly.
func Local(s *store.Store) Admin { return local{s} }

type local struct{ s *store.Store }

func info(u store.User) UserInfo {
	return UserInfo{Address: u.Address, ID: u.ID, QuotaStorage: u.QuotaStorage, QuotaMessages: u.QuotaMessages, MailHost: u.MailHost}
}

func (l local) AddUser(ctx context.Context, address, hash string) (UserInfo, error) {
	if hash == "" {
		return UserInfo{}, errors.New("adminapi: a password hash is required")
	}
	u, err := l.s.CreateUser(ctx, address, hash)
	return info(u), err
}

func (l local) DeleteUser(ctx context.Context, address string) error {
	u, err := l.s.User(ctx, address)
	if err != nil {
		return err
	}
	return l.s.DeleteUser(ctx, u)
}

func (l local) ListUsers(ctx context.Context) ([]UserInfo, error) {
	var out []UserInfo
	err := l.s.ListUsers(ctx, func(u store.User) error {
		out = append(out, info(u))
		return nil
	})
	return out, err
}

func (l local) SetPassword(ctx context.Context, address, hash string) error {
	if hash == "" {
		return errors.New("adminapi: a password hash is required")
	}
	u, err := l.s.User(ctx, address)
	if err != nil {
		return err
	}
	u.PasswordHash = hash
	return l.s.UpdateUser(ctx, u)
}

func (l local) SetQuota(ctx context.Context, address string, storage, messages int64) error {
	u, err := l.s.User(ctx, address)
	if err != nil {
		return err
	}
	if storage >= 0 {
		u.QuotaStorage = storage
	}
	if messages >= 0 {
		u.QuotaMessages = messages
	}
	return l.s.UpdateUser(ctx, u)
}

func (l local) SetMailHost(ctx context.Context, address, mailHost string) error {
	if strings.ContainsAny(mailHost, " \t\r\n") {
		return fmt.Errorf("adminapi: mailHost %q: must be a group or host name, without spaces", mailHost)
	}
	u, err := l.s.User(ctx, address)
	if err != nil {
		return err
	}
	u.MailHost = mailHost
	return l.s.UpdateUser(ctx, u)
}

func (l local) Mailboxes(ctx context.Context, address string) ([]MailboxInfo, error) {
	u, err := l.s.User(ctx, address)
	if err != nil {
		return nil, err
	}
	mbs, err := l.s.Mailboxes(ctx, u)
	if err != nil {
		return nil, err
	}
	out := make([]MailboxInfo, 0, len(mbs))
	for _, mb := range mbs {
		h, err := l.s.Status(ctx, mb)
		if err != nil {
			return nil, fmt.Errorf("adminapi: status of %s: %w", mb.Name, err)
		}
		out = append(out, MailboxInfo{
			Name: mb.Name, SpecialUse: mb.SpecialUse, Messages: h.Messages, Unseen: h.Unseen, Size: h.Size,
			UIDValidity: mb.UIDValidity, UIDNext: uint32(h.UIDNext), HighestModSeq: uint64(h.ModSeq),
		})
	}
	return out, nil
}

func (l local) Export(ctx context.Context, address, dir string) (backup.Report, error) {
	return backup.Export(ctx, l.s, address, dir)
}

func (l local) Restore(ctx context.Context, address, dir string, opt backup.Options) (backup.Report, error) {
	return backup.Restore(ctx, l.s, address, dir, opt)
}

func (l local) Import(ctx context.Context, address, dir string, opt backup.ImportOptions) (backup.Report, error) {
	return backup.Import(ctx, l.s, address, dir, opt)
}
