package cassandra

import (
	"context"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Every write to users, uidvalidity and mailboxes is a conditional (Paxos)
// write, so no plain write with a client timestamp ever races a Paxos
// ballot on the same cells.

// CreateUser implements store.Users: INSERT ... IF NOT EXISTS.
func (b *Backend) CreateUser(ctx context.Context, u store.User) error {
	applied, _, err := b.cas(ctx, "create user "+u.Address, b.q.userInsert,
		[]any{u.Address, u.ID, u.PasswordHash, u.QuotaStorage, u.QuotaMessages, u.MailHost, u.Created},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			got, err := b.userSerial(ctx, c, u.Address)
			return err == nil && got.ID == u.ID, err
		})
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrUserExists, u.Address)
	}
	return nil
}

// User implements store.Users.
func (b *Backend) User(ctx context.Context, address string) (store.User, error) {
	var u store.User
	ok, err := b.get(ctx, b.meta, "read user "+address, b.q.userGet, []any{address},
		&u.Address, &u.ID, &u.PasswordHash, &u.QuotaStorage, &u.QuotaMessages, &u.MailHost, &u.Created)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, fmt.Errorf("%w: %s", mail.ErrNoSuchUser, address)
	}
	u.Created = u.Created.UTC()
	return u, nil
}

// UpdateUser implements store.Users: an update IF the stored id is u's.
func (b *Backend) UpdateUser(ctx context.Context, u store.User) error {
	applied, _, err := b.cas(ctx, "update user "+u.Address, b.q.userUpdate,
		[]any{u.PasswordHash, u.QuotaStorage, u.QuotaMessages, u.MailHost, u.Address, u.ID},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			got, err := b.userSerial(ctx, c, u.Address)
			return err == nil && got.ID == u.ID && got.PasswordHash == u.PasswordHash &&
				got.QuotaStorage == u.QuotaStorage && got.QuotaMessages == u.QuotaMessages && got.MailHost == u.MailHost, err
		})
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchUser, u.Address)
	}
	return nil
}

// DeleteUser implements store.Users. It deletes each mailbox (record, then
// log marked gone), the subscriptions and the UIDVALIDITY counter, and the
// user record last, so an interrupted delete can be run again. Rows written
// by LWT are deleted by LWT: a plain delete carries the client's clock,
// which may be behind the Paxos ballot that wrote the row.
func (b *Backend) DeleteUser(ctx context.Context, u store.User) error {
	mbs, err := b.ListMailboxes(ctx, u.ID)
	if err != nil {
		return err
	}
	op := "delete user " + u.Address
	for _, mb := range mbs {
		if err := b.listGone(ctx, mb.ID); err != nil {
			return err
		}
		if _, err := b.deleteRecord(ctx, op, u.ID, mb.Name, mb.ID); err != nil {
			return err
		}
		if err := b.markGone(ctx, mb.ID); err != nil {
			return err
		}
	}
	if err := b.exec(ctx, b.meta, b.del, op, b.q.subDeleteUser, u.ID); err != nil {
		return err
	}
	if _, _, err := b.cas(ctx, op, b.q.uidvDeleteUser, []any{u.ID}, nil); err != nil {
		return err
	}
	applied, _, err := b.cas(ctx, op, b.q.userDelete, []any{u.Address, u.ID},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			got, err := b.userSerial(ctx, c, u.Address)
			if err == gocql.ErrNotFound {
				return true, nil
			}
			return err == nil && got.ID != u.ID, err
		})
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchUser, u.Address)
	}
	return nil
}

// userSerial reads a user record at serial consistency c.
func (b *Backend) userSerial(ctx context.Context, c gocql.Consistency, address string) (store.User, error) {
	var u store.User
	err := b.serialGet(ctx, c, b.q.userGetSerial, []any{address},
		&u.ID, &u.PasswordHash, &u.QuotaStorage, &u.QuotaMessages, &u.MailHost)
	return u, err
}

// ListUsers implements store.Users with a paged scan of the users table.
func (b *Backend) ListUsers(ctx context.Context, fn func(store.User) error) error {
	return b.scan(ctx, b.meta, "list users", b.q.userList, nil, nil, func(sc gocql.Scanner) error {
		var u store.User
		if err := sc.Scan(&u.Address, &u.ID, &u.PasswordHash, &u.QuotaStorage, &u.QuotaMessages, &u.MailHost, &u.Created); err != nil {
			return err
		}
		u.Created = u.Created.UTC()
		return fn(u)
	})
}

// NextUIDValidity implements store.Users: a compare-and-set counter that
// starts at the current unix time and never repeats (RFC 9051 2.3.1.1).
func (b *Backend) NextUIDValidity(ctx context.Context, userID string) (uint32, error) {
	op := "next uidvalidity for " + userID
	var next *int64
	if _, err := b.get(ctx, b.meta, op, b.q.uidvGet, []any{userID}, &next); err != nil {
		return 0, err
	}
	for range 64 {
		v := max(time.Now().Unix(), 1)
		var applied bool
		var cur map[string]any
		var err error
		if next == nil {
			applied, cur, err = b.cas(ctx, op, b.q.uidvInsert, []any{userID, v + 1}, nil)
		} else {
			v = max(v, *next)
			applied, cur, err = b.cas(ctx, op, b.q.uidvUpdate, []any{v + 1, userID, *next}, nil)
		}
		if err != nil {
			return 0, err
		}
		if applied {
			if v > 1<<32-2 {
				return 0, fmt.Errorf("cassandra: %s: UIDVALIDITY space exhausted", op)
			}
			return uint32(v), nil
		}
		n, ok := cur["next"].(int64)
		if !ok {
			next = nil
		} else {
			next = &n
		}
	}
	return 0, mail.Unavailable("cassandra: "+op, fmt.Errorf("too much contention"))
}
