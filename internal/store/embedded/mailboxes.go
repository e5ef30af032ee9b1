package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// CreateMailbox implements store.Mailboxes.
func (b *Backend) CreateMailbox(_ context.Context, mb store.Mailbox) error {
	l := b.userLock(mb.UserID)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(mboxKey(mb.UserID, mb.Name)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", mail.ErrMailboxExists, mb.Name)
	}
	data, err := json.Marshal(mb)
	if err != nil {
		return err
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	_ = batch.Set(headKey(mb.ID), encodeHead(store.EmptyHead()), nil)
	_ = batch.Set(mboxKey(mb.UserID, mb.Name), data, nil)
	if err := batch.Commit(b.wsync); err != nil {
		return fmt.Errorf("embedded: create mailbox %s: %w", mb.Name, err)
	}
	return nil
}

// Mailbox implements store.Mailboxes.
func (b *Backend) Mailbox(_ context.Context, userID, name string) (store.Mailbox, error) {
	var mb store.Mailbox
	v, ok, err := b.get(mboxKey(userID, name))
	if err != nil {
		return mb, err
	}
	if !ok {
		return mb, fmt.Errorf("%w: %s", mail.ErrNoSuchMailbox, name)
	}
	return mb, json.Unmarshal(v, &mb)
}

// ListMailboxes implements store.Mailboxes.
func (b *Backend) ListMailboxes(_ context.Context, userID string) ([]store.Mailbox, error) {
	var out []store.Mailbox
	p := mboxPrefix(userID)
	err := b.scan(p, prefixEnd(p), func(_, v []byte) error {
		var mb store.Mailbox
		if err := json.Unmarshal(v, &mb); err != nil {
			return fmt.Errorf("embedded: mailbox record: %w", err)
		}
		out = append(out, mb)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RenameMailbox implements store.Mailboxes.
func (b *Backend) RenameMailbox(_ context.Context, mb store.Mailbox, newName string) error {
	l := b.userLock(mb.UserID)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(mboxKey(mb.UserID, newName)); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s", mail.ErrMailboxExists, newName)
	}
	old, ok, err := b.get(mboxKey(mb.UserID, mb.Name))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchMailbox, mb.Name)
	}
	var cur store.Mailbox
	if err := json.Unmarshal(old, &cur); err != nil {
		return err
	}
	cur.Name = newName
	data, _ := json.Marshal(cur)
	batch := b.db.NewBatch()
	defer batch.Close()
	_ = batch.Delete(mboxKey(mb.UserID, mb.Name), nil)
	_ = batch.Set(mboxKey(mb.UserID, newName), data, nil)
	return batch.Commit(b.wsync)
}

// DeleteMailbox implements store.Mailboxes. The mailbox's index goes with
// it; bodies stay for the purge, since other mailboxes may share them.
func (b *Backend) DeleteMailbox(_ context.Context, mb store.Mailbox) error {
	l := b.userLock(mb.UserID)
	l.Lock()
	defer l.Unlock()
	v, ok, err := b.get(mboxKey(mb.UserID, mb.Name))
	if err != nil {
		return err
	}
	var cur store.Mailbox
	if ok {
		if err := json.Unmarshal(v, &cur); err != nil {
			return fmt.Errorf("embedded: mailbox record: %w", err)
		}
	}
	if !ok || cur.ID != mb.ID {
		return fmt.Errorf("%w: %s", mail.ErrNoSuchMailbox, mb.Name)
	}
	ml := b.mailboxLock(mb.ID)
	ml.Lock()
	defer ml.Unlock()
	batch := b.db.NewBatch()
	defer batch.Close()
	_ = batch.Delete(mboxKey(mb.UserID, mb.Name), nil)
	deleteMailboxData(batch, mb.ID)
	return batch.Commit(b.wsync)
}

func deleteMailboxData(batch *pebble.Batch, id string) {
	_ = batch.Delete(headKey(id), nil)
	_ = batch.DeleteRange(rowPrefix(id), prefixEnd(rowPrefix(id)), nil)
	_ = batch.DeleteRange(changePrefix(id), prefixEnd(changePrefix(id)), nil)
	_ = batch.DeleteRange(gonePrefix(id), prefixEnd(gonePrefix(id)), nil)
	_ = batch.Delete(logTrimKey(id), nil)
}

// SetSubscribed implements store.Mailboxes.
func (b *Backend) SetSubscribed(_ context.Context, userID, name string, on bool) error {
	var err error
	if on {
		err = b.db.Set(subKey(userID, name), nil, b.wsync)
	} else {
		err = b.db.Delete(subKey(userID, name), b.wsync)
	}
	if err != nil {
		return fmt.Errorf("embedded: subscription: %w", err)
	}
	return nil
}

// Subscriptions implements store.Mailboxes.
func (b *Backend) Subscriptions(_ context.Context, userID string) ([]string, error) {
	var out []string
	p := subPrefix(userID)
	err := b.scan(p, prefixEnd(p), func(k, _ []byte) error {
		out = append(out, string(k[len(p):]))
		return nil
	})
	return out, err
}
