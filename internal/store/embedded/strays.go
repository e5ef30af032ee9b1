package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// Stray mailboxes (store.StrayPurger): a head (h/) no mailbox record
// (m/) names. CreateMailbox writes the head and the record in one batch
// and DeleteMailbox deletes both in one, so neither leaves one half-way;
// but DeleteUser lists the user's mailboxes and then deletes, in one
// batch, their data and every record under the user: a CreateMailbox
// that commits between the two (it takes the user's lock, DeleteUser
// does not) loses its record and keeps its head, and what the creator
// appends to it later lands in rows no record reaches.
//
// PurgeStrays lists the heads, then every record of every user: a head
// listed first whose mailbox has no record in the later listing is a
// stray (a mailbox created after the first listing is not in it, and
// one deleted between lost its head with its record). A head never
// stands without a record while a creation is under way, so a stray
// needs no grace: its data goes at once, in one batch under the
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
	recorded := map[string]bool{}
	p = []byte(pMbox)
	if err := b.scan(p, prefixEnd(p), func(_, v []byte) error {
		var mb store.Mailbox
		if err := json.Unmarshal(v, &mb); err != nil {
			return fmt.Errorf("embedded: mailbox record: %w", err)
		}
		recorded[mb.ID] = true
		return nil
	}); err != nil {
		return 0, err
	}
	var n int64
	for _, id := range heads {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if recorded[id] {
			continue
		}
		dropped, err := b.dropStray(id, dryRun)
		if err != nil {
			return n, fmt.Errorf("embedded: drop the rows of stray mailbox %s: %w", id, err)
		}
		if dropped {
			n++
		}
	}
	return n, nil
}

// dropStray deletes the data of the stray mailbox id (with dryRun, only
// reports it), unless it is gone already.
func (b *Backend) dropStray(id string, dryRun bool) (bool, error) {
	l := b.mailboxLock(id)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(headKey(id)); err != nil || !ok {
		return false, err
	}
	if dryRun {
		return true, nil
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	deleteMailboxData(batch, id)
	return true, batch.Commit(b.wsync)
}

var _ store.StrayPurger = (*Backend)(nil)
