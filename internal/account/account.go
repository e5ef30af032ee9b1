// Package account joins a directory to the store: it finds a user in the
// directory (the store's own users, or LDAP), opens the user's store
// record, and creates that record with the default mailboxes the first
// time a user of an external directory logs in or receives mail.
//
// Invariants:
//   - A user is created in the store only for an entry of an external
//     directory (directory.Entry.External), and at most once: a creation
//     that races another finds the other's record.
//   - The directory is the source of truth for an external user's mailHost
//     and quota: a store record that differs is updated when opened.
//   - Service administrators are the directory's (an LDAP group) and the
//     configured addresses (directory.service_admins).
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Store is what Accounts needs of the store; *store.Store implements it.
type Store interface {
	User(ctx context.Context, address string) (store.User, error)
	CreateUser(ctx context.Context, address, passwordHash string) (store.User, error)
	UpdateUser(ctx context.Context, u store.User) error
}

// Accounts is a directory bound to a store. It is safe for concurrent use.
type Accounts struct {
	dir    directory.Directory
	st     Store
	admins map[string]bool
	log    *slog.Logger
}

// New returns Accounts over dir and st; admins are canonical addresses
// of service administrators, besides those dir names. log may be nil.
func New(dir directory.Directory, st Store, admins []string, log *slog.Logger) (*Accounts, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Accounts{dir: dir, st: st, admins: map[string]bool{}, log: log}
	for _, s := range admins {
		c, err := store.CanonicalAddress(s)
		if err != nil {
			return nil, fmt.Errorf("account: service administrator %q: %w", s, err)
		}
		a.admins[c] = true
	}
	return a, nil
}

// Lookup asks the directory.
func (a *Accounts) Lookup(ctx context.Context, address string) (directory.Entry, error) {
	return a.dir.Lookup(ctx, address)
}

// Bind asks the directory to verify a password.
func (a *Accounts) Bind(ctx context.Context, e directory.Entry, password string) (bool, error) {
	return a.dir.Bind(ctx, e, password)
}

// MissingEntry is the entry to check a login for an unknown address
// against, when the directory verifies by bind (ldapdir): ok is false for
// a directory of stored hashes, whose logins use a dummy hash instead.
func (a *Accounts) MissingEntry() (e directory.Entry, ok bool) {
	m, ok := a.dir.(interface{ MissingEntry() directory.Entry })
	if !ok {
		return directory.Entry{}, false
	}
	return m.MissingEntry(), true
}

// ServiceAdmin reports whether e is a configured or a directory's
// service administrator.
func (a *Accounts) ServiceAdmin(ctx context.Context, e directory.Entry) (bool, error) {
	if a.admins[e.Address] {
		return true, nil
	}
	return a.dir.ServiceAdmin(ctx, e)
}

// Open returns e's store record, creating it (with the default
// mailboxes) for an external user new to the store, and bringing its
// mailHost and quota up to the directory's.
func (a *Accounts) Open(ctx context.Context, e directory.Entry) (store.User, error) {
	if u, ok := e.Record.(store.User); ok && !e.External {
		return u, nil // the store's own directory read it just now
	}
	u, err := a.st.User(ctx, e.Address)
	if errors.Is(err, mail.ErrNoSuchUser) && e.External {
		u, err = a.st.CreateUser(ctx, e.Address, "")
		switch {
		case errors.Is(err, mail.ErrUserExists): // another session created it first
			u, err = a.st.User(ctx, e.Address)
		case err == nil:
			a.log.Info("account: created the store of a directory user at first use", "user", e.Address, "mailhost", e.MailHost)
		}
	}
	if err != nil || !e.External {
		return u, err
	}
	want := u
	if e.MailHost != "" {
		want.MailHost = e.MailHost
	}
	if e.QuotaStorage > 0 {
		want.QuotaStorage = e.QuotaStorage
	}
	if e.QuotaMessages > 0 {
		want.QuotaMessages = e.QuotaMessages
	}
	if want != u {
		if err := a.st.UpdateUser(ctx, want); err != nil {
			return store.User{}, fmt.Errorf("account: update %s from the directory: %w", e.Address, err)
		}
	}
	return want, nil
}

// User returns the store record of the user address delivers to (LMTP
// RCPT), created at first delivery for an external user. A locked account
// receives nothing: it is mail.ErrNoSuchUser.
func (a *Accounts) User(ctx context.Context, address string) (store.User, error) {
	e, err := a.dir.Lookup(ctx, address)
	if err != nil {
		return store.User{}, err
	}
	if e.Status == directory.StatusLocked {
		return store.User{}, fmt.Errorf("%w: %s is locked in the directory", mail.ErrNoSuchUser, e.Address)
	}
	return a.Open(ctx, e)
}

// Deliveries is the store with recipients looked up through Accounts, for
// LMTP: a directory user new to the store gets their mailboxes at first
// delivery.
type Deliveries struct {
	*store.Store
	Accounts *Accounts
}

// User returns the store record of the user address delivers to.
func (d Deliveries) User(ctx context.Context, address string) (store.User, error) {
	return d.Accounts.User(ctx, address)
}
