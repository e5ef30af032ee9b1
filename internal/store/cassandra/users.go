package cassandra

import (
	"context"
	"errors"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Every write to users, uidvalidity and mailboxes is a conditional (Paxos)
// write, so no plain write with a client timestamp ever races a Paxos
// ballot on the same cells.
//
// The fence of a user's record: every write to it (create, update,
// delete) carries the column fence of the user's row in its condition
// and is sent by fencedCAS, so one that timed out is settled behind a
// fence advance, and a request still queued on a silent coordinator can
// never land after the verdict "not landed": an update can never revert
// a later one, a create never bring back a user deleted since (fence.go
// has the argument). The fence outlives the user: DeleteUser deletes the
// record's columns and keeps the fence, or the whole row while the fence
// is null (userWrite says why that is safe). A row without an id (only a
// fence, or the row marker of a user an older release created by INSERT
// and this one deleted) is no user.

// CreateUser implements store.Users: an update IF id = null, which holds
// for a row that does not exist (IF NOT EXISTS cannot be combined with
// the fence's condition), and for one that holds only a fence.
func (b *Backend) CreateUser(ctx context.Context, u store.User) error {
	op := "create user " + u.Address
	applied, err := b.fencedCAS(ctx, b.userWrite(op, u.Address,
		func(f int64) (string, []any) {
			return b.q.userInsert, []any{u.ID, u.PasswordHash, u.QuotaStorage, u.QuotaMessages, u.MailHost, u.Created,
				u.Address, fenceArg(f)}
		},
		func(got store.User) bool { return got.ID == u.ID },
		// Another user holds the address, or an earlier attempt of
		// ours landed (id == u.ID).
		func(id string) bool { return id == u.ID }))
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
	if u.ID == "" {
		// The row holds only the fence of a deleted user's record.
		return store.User{}, fmt.Errorf("%w: %s", mail.ErrNoSuchUser, address)
	}
	u.Created = u.Created.UTC()
	return u, nil
}

// UpdateUser implements store.Users: an update IF the stored id is u's.
func (b *Backend) UpdateUser(ctx context.Context, u store.User) error {
	op := "update user " + u.Address
	applied, err := b.fencedCAS(ctx, b.userWrite(op, u.Address,
		func(f int64) (string, []any) {
			return b.q.userUpdate, []any{u.PasswordHash, u.QuotaStorage, u.QuotaMessages, u.MailHost, u.Address, u.ID, fenceArg(f)}
		},
		func(got store.User) bool {
			return got.ID == u.ID && got.PasswordHash == u.PasswordHash && got.QuotaStorage == u.QuotaStorage &&
				got.QuotaMessages == u.QuotaMessages && got.MailHost == u.MailHost
		},
		func(string) bool { return false }))
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchUser, u.Address)
	}
	return nil
}

// DeleteUser implements store.Users. It deletes each mailbox (record,
// then log marked gone), the subscriptions and the UIDVALIDITY counter,
// and the user record, so an interrupted delete can be run again and
// leaves the user whole until its record goes (a delivery recreates a
// deleted INBOX). Rows written by LWT are deleted by LWT: a plain delete
// carries the client's clock, which may be behind the Paxos ballot that
// wrote the row.
//
// Then it seals the user's mailbox records (sealRecords) and deletes the
// mailboxes again: a creation that raced the deletion, or one of a
// session still holding the user, carries the records' fence in its
// record insert's condition, so one that runs after the seal fails
// (CreateMailbox then drops its head and says mail.ErrNoSuchUser), and
// one that ran before it (the seal's Paxos round completes any round of
// it under way) is in the second listing. What a failure after the
// user's record went leaves is the purge's, as is the sealed partition
// (strays.go).
func (b *Backend) DeleteUser(ctx context.Context, u store.User) error {
	op := "delete user " + u.Address
	if err := b.deleteMailboxesOf(ctx, op, u.ID); err != nil {
		return err
	}
	if err := b.exec(ctx, b.meta, b.del, op, b.q.subDeleteUser, u.ID); err != nil {
		return err
	}
	if _, _, err := b.cas(ctx, op, b.q.uidvDeleteUser, []any{u.ID}, nil); err != nil {
		return err
	}
	applied, err := b.fencedCAS(ctx, b.userWrite(op, u.Address,
		func(f int64) (string, []any) {
			if f == 0 {
				return b.q.userDelete, []any{u.Address, u.ID, nil}
			}
			return b.q.userClear, []any{u.Address, u.ID, f}
		},
		func(got store.User) bool { return got.ID != u.ID },
		func(string) bool { return false }))
	if err != nil {
		return err
	}
	if !applied {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchUser, u.Address)
	}
	if err := b.sealRecords(ctx, u.ID); err != nil {
		return err
	}
	return b.deleteMailboxesOf(ctx, op, u.ID)
}

// deleteMailboxesOf deletes every mailbox the user userID has: listed
// for the purge, its record deleted, its log marked gone.
func (b *Backend) deleteMailboxesOf(ctx context.Context, op, userID string) error {
	mbs, err := b.ListMailboxes(ctx, userID)
	if err != nil {
		return err
	}
	for _, mb := range mbs {
		if err := b.listGone(ctx, mb.ID); err != nil {
			return err
		}
		if _, err := b.deleteRecord(ctx, op, userID, mb.Name, mb.ID); err != nil {
			return err
		}
		if err := b.markGone(ctx, mb.ID); err != nil {
			return err
		}
	}
	return nil
}

// userWrite is a fenced write to the record of the user at address: stmt
// builds it for a fence, landed says whether the record read back at
// serial consistency shows it, and failed, given the id of a record whose
// condition failed on its id, whether the write is done all the same.
//
// The delete of a record whose fence is null deletes the whole row: the
// null fence its condition holds proves that no write of the user was
// ever settled as not landed, so none is queued that the verdict would
// have to keep out; a fence advance after it (a write in flight
// meanwhile) makes a row of its own. This keeps a deleted user's row
// only where a fence was needed, and an older release's CreateUser (IF
// NOT EXISTS) able to create the address again.
func (b *Backend) userWrite(op, address string, stmt func(f int64) (string, []any),
	landed func(store.User) bool, failed func(id string) bool) fencedWrite {
	return fencedWrite{
		op:   op,
		stmt: stmt,
		readFence: func(ctx context.Context) (int64, error) {
			return b.readFence(ctx, op, b.q.userFenceGet, address)
		},
		advance: func(ctx context.Context, c gocql.Consistency) error {
			return b.fenceUser(ctx, c, address)
		},
		landed: func(ctx context.Context, c gocql.Consistency) (bool, error) {
			got, err := b.userSerial(ctx, c, address)
			if errors.Is(err, gocql.ErrNotFound) {
				err = nil // no row: no user (got.ID empty)
			}
			return err == nil && landed(got), err
		},
		failed: func(cur map[string]any) bool {
			id, _ := cur["id"].(string)
			return failed(id)
		},
	}
}

// fenceUser advances the fence of the record of the user at address, read
// at serial consistency c: a write to it that timed out can no longer
// land. The row need not exist.
func (b *Backend) fenceUser(ctx context.Context, c gocql.Consistency, address string) error {
	f, err := b.serialFence(ctx, c, b.q.userFenceGet, address)
	if err != nil {
		return err
	}
	return b.advanceFence(ctx, c, "the record of user "+address, b.q.userFenceSet, f, address)
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
		if u.ID == "" {
			return nil // the fence of a deleted user's record alone
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
