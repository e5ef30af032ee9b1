package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// Stray mailboxes (store.StrayPurger): a head (h/) no mailbox record
// (m/) of a user that exists names. CreateMailbox writes the head and the
// record in one batch and DeleteMailbox deletes both in one, so neither
// leaves one half-way. But a CreateMailbox by a session that still holds
// a user deleted meanwhile writes a record and a head under a user that
// no longer exists, and what it appends later lands in rows no listing
// reaches. (Before DeleteUser took the user's lock and its mailboxes'
// commit locks, a creation or a commit racing it left a head without a
// record too.)
//
// PurgeStrays lists the heads, then every record of every user, then the
// users: a head listed first whose mailbox has no record in the second
// listing, or a record of a user missing from the third, is a stray (a
// mailbox created after the first listing is not in it, one deleted
// between lost its head with its record, and a user exists before its
// first record and never comes back). A head never stands without its
// record while a creation is under way, so a stray needs no grace: its
// data and record go at once, in one batch under the user's lock and the
// mailbox's commit lock, as DeleteMailbox's would (a session still
// appending to it then gets mail.ErrNoSuchMailbox). The bodies it
// referenced are the body purge's: the mark scan never read them.
func (b *Backend) PurgeStrays(ctx context.Context, _ time.Time, _ func(string) bool, dryRun bool) (int64, error) {
	var heads []string
	p := []byte(pHead)
	if err := b.scan(p, prefixEnd(p), func(k, _ []byte) error {
		heads = append(heads, string(k[len(p):]))
		return nil
	}); err != nil {
		return 0, err
	}
	recorded := map[string]store.Mailbox{}
	p = []byte(pMbox)
	if err := b.scan(p, prefixEnd(p), func(_, v []byte) error {
		var mb store.Mailbox
		if err := json.Unmarshal(v, &mb); err != nil {
			return fmt.Errorf("embedded: mailbox record: %w", err)
		}
		recorded[mb.ID] = mb
		return nil
	}); err != nil {
		return 0, err
	}
	users := map[string]bool{}
	if err := b.ListUsers(ctx, func(u store.User) error { users[u.ID] = true; return nil }); err != nil {
		return 0, err
	}
	var n int64
	for _, id := range heads {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		rec, ok := recorded[id]
		if ok && users[rec.UserID] {
			continue
		}
		if !ok {
			rec = store.Mailbox{ID: id}
		}
		dropped, err := b.dropStray(rec, dryRun)
		if err != nil {
			return n, fmt.Errorf("embedded: drop the rows of stray mailbox %s: %w", id, err)
		}
		if dropped {
			n++
		}
	}
	return n, nil
}

// dropStray deletes the data of the stray mailbox mb, and its record if
// mb names one that still holds it (with dryRun, only reports it), unless
// it is gone already.
func (b *Backend) dropStray(mb store.Mailbox, dryRun bool) (bool, error) {
	if mb.UserID != "" {
		ul := b.userLock(mb.UserID)
		ul.Lock()
		defer ul.Unlock()
	}
	l := b.mailboxLock(mb.ID)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(headKey(mb.ID)); err != nil || !ok {
		return false, err
	}
	if dryRun {
		return true, nil
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	deleteMailboxData(batch, mb.ID)
	if mb.UserID != "" {
		v, ok, err := b.get(mboxKey(mb.UserID, mb.Name))
		if err != nil {
			return false, err
		}
		var cur store.Mailbox
		if ok && json.Unmarshal(v, &cur) == nil && cur.ID == mb.ID {
			_ = batch.Delete(mboxKey(mb.UserID, mb.Name), nil)
		}
	}
	return true, batch.Commit(b.wsync)
}

var _ store.StrayPurger = (*Backend)(nil)
