package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// CreateUser implements store.Users.
func (b *Backend) CreateUser(_ context.Context, u store.User) error {
	l := b.userLock(u.Address)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(userKey(u.Address)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", mail.ErrUserExists, u.Address)
	}
	return b.putJSON(userKey(u.Address), u)
}

// User implements store.Users.
func (b *Backend) User(_ context.Context, address string) (store.User, error) {
	var u store.User
	v, ok, err := b.get(userKey(address))
	if err != nil {
		return u, err
	}
	if !ok {
		return u, fmt.Errorf("%w: %s", mail.ErrNoSuchUser, address)
	}
	return u, json.Unmarshal(v, &u)
}

// UpdateUser implements store.Users.
func (b *Backend) UpdateUser(ctx context.Context, u store.User) error {
	l := b.userLock(u.Address)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(userKey(u.Address)); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchUser, u.Address)
	}
	return b.putJSON(userKey(u.Address), u)
}

// DeleteUser implements store.Users. The user's mailboxes go with it.
//
// It holds the user's lock, as CreateMailbox does, and the commit locks of
// the mailboxes it lists: a mailbox created, or a commit that read its
// head, after the listing would otherwise write a head or rows after the
// batch that no record reaches (a stray, strays.go).
func (b *Backend) DeleteUser(ctx context.Context, u store.User) error {
	l := b.userLock(u.ID)
	l.Lock()
	defer l.Unlock()
	mbs, err := b.ListMailboxes(ctx, u.ID)
	if err != nil {
		return err
	}
	ids := make([]string, len(mbs))
	for i, mb := range mbs {
		ids[i] = mb.ID
	}
	defer b.lockMailboxes(ids)()
	batch := b.db.NewBatch()
	defer batch.Close()
	for _, mb := range mbs {
		deleteMailboxData(batch, mb.ID)
	}
	_ = batch.DeleteRange(mboxPrefix(u.ID), prefixEnd(mboxPrefix(u.ID)), nil)
	_ = batch.DeleteRange(subPrefix(u.ID), prefixEnd(subPrefix(u.ID)), nil)
	_ = batch.Delete(uidvKey(u.ID), nil)
	_ = batch.Delete(userKey(u.Address), nil)
	if err := batch.Commit(b.wsync); err != nil {
		return fmt.Errorf("embedded: delete user %s: %w", u.Address, err)
	}
	return nil
}

// ListUsers implements store.Users.
func (b *Backend) ListUsers(_ context.Context, fn func(store.User) error) error {
	p := []byte(pUser)
	return b.scan(p, prefixEnd(p), func(_, v []byte) error {
		var u store.User
		if err := json.Unmarshal(v, &u); err != nil {
			return fmt.Errorf("embedded: user record: %w", err)
		}
		return fn(u)
	})
}

// NextUIDValidity implements store.Users: unix seconds at first use, then
// one more each time, so values stay unique even within one second.
func (b *Backend) NextUIDValidity(_ context.Context, userID string) (uint32, error) {
	l := b.userLock(userID)
	l.Lock()
	defer l.Unlock()
	v, ok, err := b.get(uidvKey(userID))
	if err != nil {
		return 0, err
	}
	next := uint32(time.Now().Unix())
	if ok && len(v) == 4 {
		next = max(next, binary.BigEndian.Uint32(v))
	}
	if next == 0 {
		next = 1
	}
	if err := b.db.Set(uidvKey(userID), binary.BigEndian.AppendUint32(nil, next+1), b.wsync); err != nil {
		return 0, fmt.Errorf("embedded: uidvalidity: %w", err)
	}
	return next, nil
}

func (b *Backend) putJSON(k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := b.db.Set(k, data, b.wsync); err != nil {
		return fmt.Errorf("embedded: write: %w", err)
	}
	return nil
}
