// Package storedir is the embedded directory: users are the store's user
// records (Pebble, or ms_mbox on Cassandra), each with its password hash,
// quota and mailHost, as "quire user add" made them.
//
// Invariants: an entry's Credential is its stored hash, so a cached
// verification ends with a password change made anywhere; the store has
// no aliases, no status (every user is active) and no service
// administrators of its own (they are configured: directory.service_admins).
package storedir

import (
	"context"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/store"
)

// Users is what the directory reads; *store.Store implements it.
type Users interface {
	User(ctx context.Context, address string) (store.User, error)
}

// Dir is a directory over the store's users.
type Dir struct{ users Users }

// New returns the directory of users.
func New(users Users) *Dir { return &Dir{users: users} }

// Lookup returns the store's user for address (a +detail is ignored).
func (d *Dir) Lookup(ctx context.Context, address string) (directory.Entry, error) {
	u, err := d.users.User(ctx, address)
	if err != nil {
		return directory.Entry{}, err
	}
	return Entry(u), nil
}

// Entry is u as a directory entry.
func Entry(u store.User) directory.Entry {
	return directory.Entry{
		Address: u.Address, MailHost: u.MailHost,
		QuotaStorage: u.QuotaStorage, QuotaMessages: u.QuotaMessages,
		Status: directory.StatusActive, PasswordHash: u.PasswordHash, Credential: u.PasswordHash,
		Record: u,
	}
}

// Bind verifies nothing: the store's users are verified against their
// hash (Entry.PasswordHash), within login's memory budget.
func (d *Dir) Bind(context.Context, directory.Entry, string) (bool, error) { return false, nil }

// ServiceAdmin is false: the store marks no user as an administrator.
func (d *Dir) ServiceAdmin(context.Context, directory.Entry) (bool, error) { return false, nil }

// Open returns the store's user of e: the record Lookup read, or the
// store's record of the address for an entry made elsewhere.
func (d *Dir) Open(ctx context.Context, e directory.Entry) (store.User, error) {
	if u, ok := e.Record.(store.User); ok {
		return u, nil
	}
	return d.users.User(ctx, e.Address)
}
