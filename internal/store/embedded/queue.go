package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/store"
)

// The index queue: key "q\0" group \0 userID \0 mailboxID, value the time
// of the latest mark (unix nanoseconds, big-endian). Marks are written
// without their own sync: the commit they precede syncs the write-ahead
// log, which holds the mark before it.

func queueKey(p store.Unindexed) []byte {
	return append([]byte(pQueue), key(p.Group, p.UserID, p.MailboxID)...)
}

// MarkUnindexed implements store.IndexQueue.
func (b *Backend) MarkUnindexed(_ context.Context, p store.Unindexed) error {
	b.qlock.Lock()
	defer b.qlock.Unlock()
	v := binary.BigEndian.AppendUint64(nil, uint64(p.Marked.UnixNano()))
	if err := b.db.Set(queueKey(p), v, pebble.NoSync); err != nil {
		return fmt.Errorf("embedded: mark %s unindexed: %w", p.MailboxID, err)
	}
	return nil
}

// Unindexed implements store.IndexQueue.
func (b *Backend) Unindexed(_ context.Context, group string, fn func(store.Unindexed) error) error {
	pre := append([]byte(pQueue), key(group, "")...)
	var marks []store.Unindexed
	err := b.scan(pre, prefixEnd(pre), func(k, v []byte) error {
		parts := bytes.Split(k[len(pQueue):], []byte{0})
		if len(parts) != 3 || len(v) != 8 {
			return errCorrupt
		}
		marks = append(marks, store.Unindexed{Group: group, UserID: string(parts[1]), MailboxID: string(parts[2]),
			Marked: time.Unix(0, int64(binary.BigEndian.Uint64(v)))})
		return nil
	})
	if err != nil {
		return err
	}
	// fn runs outside the iterator: it may clear marks.
	for _, m := range marks {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// ClearUnindexed implements store.IndexQueue.
func (b *Backend) ClearUnindexed(_ context.Context, p store.Unindexed, before time.Time) error {
	b.qlock.Lock()
	defer b.qlock.Unlock()
	k := queueKey(p)
	v, ok, err := b.get(k)
	if err != nil || !ok {
		return err
	}
	if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > before.UnixNano() {
		return nil // marked again since
	}
	if err := b.db.Delete(k, pebble.NoSync); err != nil {
		return fmt.Errorf("embedded: clear the index mark of %s: %w", p.MailboxID, err)
	}
	return nil
}
