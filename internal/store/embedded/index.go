package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// maxChanges bounds one Commit; Pebble batches have no practical limit, so
// this only keeps a commit's lock hold short.
const maxChanges = 4096

// MaxChangesPerCommit implements store.Index.
func (b *Backend) MaxChangesPerCommit() int { return maxChanges }

// Head implements store.Index.
func (b *Backend) Head(_ context.Context, mailboxID string) (store.Head, error) {
	v, ok, err := b.get(headKey(mailboxID))
	if err != nil {
		return store.Head{}, err
	}
	if !ok {
		return store.Head{}, fmt.Errorf("%w: id %s", mail.ErrNoSuchMailbox, mailboxID)
	}
	return decodeHead(v)
}

// Commit implements store.Index: a compare-and-set of the head under the
// mailbox lock, applied as one synced batch.
func (b *Backend) Commit(_ context.Context, mailboxID string, prev, next store.Head, changes []store.Change) error {
	l := b.mailboxLock(mailboxID)
	l.Lock()
	defer l.Unlock()
	v, ok, err := b.get(headKey(mailboxID))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: id %s", mail.ErrNoSuchMailbox, mailboxID)
	}
	cur, err := decodeHead(v)
	if err != nil {
		return err
	}
	if cur.ModSeq != prev.ModSeq {
		return mail.ErrConflict
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	for _, c := range changes {
		rk := rowKey(mailboxID, c.UID)
		switch c.Kind {
		case store.ChangeAppend:
			b.low.below(mailboxID, c.UID) // never so from the store: appends are at UIDNEXT
			_ = batch.Set(rk, encodeRow(c.Row(store.MessageRow{})), nil)
		case store.ChangeFlags:
			old, ok, err := b.get(rk)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("embedded: commit: flags change for missing uid %d", c.UID)
			}
			r, err := decodeRow(c.UID, old)
			if err != nil {
				return err
			}
			_ = batch.Set(rk, encodeRow(c.Row(r)), nil)
		case store.ChangeExpunge:
			// The row moves to the expunged rows, with the expunge's
			// MODSEQ, for Expunged.
			old, ok, err := b.get(rk)
			if err != nil {
				return err
			}
			if ok {
				r, err := decodeRow(c.UID, old)
				if err != nil {
					return err
				}
				r.ModSeq = c.ModSeq
				_ = batch.Set(goneKey(mailboxID, c.UID), encodeRow(r), nil)
			}
			_ = batch.Delete(rk, nil)
		}
		_ = batch.Set(changeKey(mailboxID, c.ModSeq, c.UID), encodeChange(c), nil)
	}
	_ = batch.Set(headKey(mailboxID), encodeHead(next), nil)
	if err := batch.Commit(b.wsync); err != nil {
		return mail.Unavailable("embedded: commit", err)
	}
	return nil
}

// Messages implements store.Index.
func (b *Backend) Messages(_ context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageRow) error) error {
	return b.rows(mailboxID, lo, hi, func(uid mail.UID, v []byte) error {
		r, err := decodeRow(uid, v)
		if err != nil {
			return err
		}
		return fn(r)
	})
}

// States implements store.Backend: the rows of Messages, decoding only
// MODSEQ and flags, which lead each row value.
func (b *Backend) States(_ context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageState) error) error {
	return b.rows(mailboxID, lo, hi, func(uid mail.UID, v []byte) error {
		st, err := decodeState(uid, v)
		if err != nil {
			return err
		}
		return fn(st)
	})
}

// rows calls fn with the UID and value of each row with lo <= UID <= hi
// (hi 0: no bound), in UID order.
func (b *Backend) rows(mailboxID string, lo, hi mail.UID, fn func(mail.UID, []byte) error) error {
	if hi == 0 {
		hi = math.MaxUint32
	}
	if lo > hi {
		return nil
	}
	// Start at the mailbox's low hint when that is above lo (lowhint.go);
	// a scan with nothing below its start raises the hint to its first row.
	start, bare := lo, lo <= 1
	if h := b.low.get(mailboxID); h >= start {
		start, bare = h, true
	}
	if start > hi {
		return nil
	}
	if start == hi {
		// One row (UID FETCH n, STORE n): a point read, which Pebble's
		// bloom filters answer without positioning an iterator on
		// every level.
		v, ok, err := b.get(rowKey(mailboxID, hi))
		if err != nil || !ok {
			return err
		}
		return fn(hi, v)
	}
	n := len(rowPrefix(mailboxID))
	first := bare
	return b.scan(rowKey(mailboxID, start), prefixEnd(rowKey(mailboxID, hi)), func(k, v []byte) error {
		uid := mail.UID(binary.BigEndian.Uint32(k[n:]))
		if first {
			first = false
			if uid > start {
				b.low.raise(mailboxID, uid)
			}
		}
		return fn(uid, v)
	})
}

// Changes implements store.Index.
func (b *Backend) Changes(_ context.Context, mailboxID string, since mail.ModSeq, fn func(store.Change) error) error {
	if since == math.MaxUint64 {
		return nil
	}
	p := changePrefix(mailboxID)
	start := binary.BigEndian.AppendUint64(append([]byte(nil), p...), uint64(since)+1)
	return b.scan(start, prefixEnd(p), func(k, v []byte) error {
		if len(k) != len(p)+12 {
			return errors.New("embedded: bad change key")
		}
		if binary.BigEndian.Uint32(k[len(p)+8:]) == 0 {
			// The floor marker (logtrim.go): the log was trimmed past since.
			return &store.LogTrimmedError{Mailbox: mailboxID, Since: since, Floor: mail.ModSeq(binary.BigEndian.Uint64(k[len(p):]))}
		}
		c, err := decodeChange(v)
		if err != nil {
			return err
		}
		c.ModSeq = mail.ModSeq(binary.BigEndian.Uint64(k[len(p):]))
		c.UID = mail.UID(binary.BigEndian.Uint32(k[len(p)+8:]))
		if c.Kind == store.ChangeAppend {
			if rv, ok, err := b.get(rowKey(mailboxID, c.UID)); err != nil {
				return err
			} else if ok {
				r, err := decodeRow(c.UID, rv)
				if err != nil {
					return err
				}
				c.Meta = &r.Meta
			}
		}
		return fn(c)
	})
}
