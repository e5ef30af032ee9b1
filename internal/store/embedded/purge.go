package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// The purge's state of a body (store.BlobPurger) is the key g/<id>: when
// a purge first found it unreferenced (unix ms) and whether a purge has
// condemned it. A claim (PutBlob, ClaimBlobs) deletes the key, under the
// body's lock; CondemnBlob and DeleteBlob act only if the key still holds
// what the purge read, under the same lock. So a claim and a deletion are
// ordered by the lock: the deletion sees the claim and stops, or the claim
// finds the body gone and stores it again.
//
// DeleteBlob deletes the body's record and purge state and, for a body
// kept in a file, records the file for removal (d/<id>), in one synced
// batch; then it removes the file and the d/ key. A crash between the
// two leaves the file and its d/ key; PurgeLeftovers removes the file
// unless the body was stored again meanwhile.

func encodeUnref(at time.Time, condemned bool) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(at.UnixMilli()))
	if condemned {
		return append(v, 1)
	}
	return append(v, 0)
}

func decodeUnref(v []byte) (time.Time, bool, error) {
	if len(v) != 9 {
		return time.Time{}, false, errCorrupt
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(v))), v[8] == 1, nil
}

// ClaimBlobs implements store.BlobPurger.
func (b *Backend) ClaimBlobs(_ context.Context, ids []store.BlobID) error {
	for _, id := range ids {
		if !id.Valid() {
			return fmt.Errorf("embedded: claim body: bad id %q", id)
		}
		ok, err := b.claim(string(id))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s", mail.ErrNoBlob, id)
		}
	}
	return nil
}

// PurgeBlobs implements store.BlobPurger: it reads the purge states, then
// the bodies' records, and reports each body with its stored size.
func (b *Backend) PurgeBlobs(ctx context.Context, _ func(store.BlobID) bool, fn func(store.BlobState) error) error {
	unref := map[string]time.Time{}
	p := []byte(pUnref)
	err := b.scan(p, prefixEnd(p), func(k, v []byte) error {
		at, _, err := decodeUnref(v)
		if err != nil {
			return fmt.Errorf("embedded: purge state of body %s: %w", k[len(p):], err)
		}
		unref[string(k[len(p):])] = at
		return nil
	})
	if err != nil {
		return err
	}
	p = []byte(pBlob)
	return b.scan(p, prefixEnd(p), func(k, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		id := string(k[len(p):])
		st := store.BlobState{ID: store.BlobID(id), Bytes: int64(len(v)), Unreferenced: unref[id]}
		if len(v) > 0 && v[0] == kindFile {
			if fi, err := b.fs.Stat(b.blobPath(id)); err == nil {
				st.Bytes = fi.Size()
			}
		}
		return fn(st)
	})
}

// MarkUnreferenced implements store.BlobPurger.
func (b *Backend) MarkUnreferenced(_ context.Context, id store.BlobID, at time.Time) error {
	l := b.blobLock(string(id))
	l.Lock()
	defer l.Unlock()
	if err := b.db.Set(unrefKey(string(id)), encodeUnref(at, false), pebble.NoSync); err != nil {
		return mail.Unavailable("embedded: mark a body unreferenced", err)
	}
	return nil
}

// ClearUnreferenced implements store.BlobPurger.
func (b *Backend) ClearUnreferenced(_ context.Context, id store.BlobID) error {
	l := b.blobLock(string(id))
	l.Lock()
	defer l.Unlock()
	if err := b.db.Delete(unrefKey(string(id)), pebble.NoSync); err != nil {
		return mail.Unavailable("embedded: clear a body's purge state", err)
	}
	return nil
}

// stillUnreferenced reads id's purge state under its lock and reports
// whether it is st's: no claim since the purge read it.
func (b *Backend) stillUnreferenced(st store.BlobState) (condemned, ok bool, err error) {
	v, found, err := b.get(unrefKey(string(st.ID)))
	if err != nil || !found {
		return false, false, err
	}
	at, condemned, err := decodeUnref(v)
	if err != nil {
		return false, false, err
	}
	return condemned, at.Equal(st.Unreferenced), nil
}

// CondemnBlob implements store.BlobPurger.
func (b *Backend) CondemnBlob(_ context.Context, st store.BlobState) (bool, error) {
	l := b.blobLock(string(st.ID))
	l.Lock()
	defer l.Unlock()
	_, ok, err := b.stillUnreferenced(st)
	if err != nil || !ok {
		return false, err
	}
	if err := b.db.Set(unrefKey(string(st.ID)), encodeUnref(st.Unreferenced, true), pebble.NoSync); err != nil {
		return false, mail.Unavailable("embedded: condemn a body", err)
	}
	return true, nil
}

// DeleteBlob implements store.BlobPurger. Its steps: "record" (the
// body's record and purge state deleted, its file recorded for removal),
// then "file" (the file removed).
func (b *Backend) DeleteBlob(_ context.Context, st store.BlobState, between func(string) error) error {
	id := string(st.ID)
	l := b.blobLock(id)
	l.Lock()
	defer l.Unlock()
	condemned, ok, err := b.stillUnreferenced(st)
	if err != nil {
		return err
	}
	if !ok || !condemned {
		return nil // claimed since CondemnBlob: the body stays
	}
	v, stored, err := b.get(blobKey(id))
	if err != nil {
		return err
	}
	file := stored && len(v) > 0 && v[0] == kindFile
	batch := b.db.NewBatch()
	defer batch.Close()
	_ = batch.Delete(blobKey(id), nil)
	_ = batch.Delete(unrefKey(id), nil)
	if file {
		_ = batch.Set(dropKey(id), nil, nil)
	}
	if err := batch.Commit(b.wsync); err != nil {
		return mail.Unavailable("embedded: delete a body", err)
	}
	if err := between("record"); err != nil || !file {
		return err
	}
	return b.dropFile(id)
}

// dropFile removes a body file whose record is deleted, and its d/ key.
// The caller holds the body's lock.
func (b *Backend) dropFile(id string) error {
	if err := b.fs.Remove(b.blobPath(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mail.Unavailable("embedded: remove a body file", err)
	}
	if err := b.db.Delete(dropKey(id), pebble.NoSync); err != nil {
		return mail.Unavailable("embedded: delete a body", err)
	}
	return nil
}

// PurgeLeftovers implements store.BlobPurger: it removes the files that
// deletions interrupted before their second step left, unless the body
// was stored again since.
func (b *Backend) PurgeLeftovers(ctx context.Context) (n, bytes int64, err error) {
	var ids []string
	p := []byte(pDrop)
	if err := b.scan(p, prefixEnd(p), func(k, _ []byte) error {
		ids = append(ids, string(k[len(p):]))
		return nil
	}); err != nil {
		return 0, 0, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, bytes, err
		}
		freed, err := b.dropLeftover(id)
		if err != nil {
			return n, bytes, err
		}
		if freed >= 0 {
			n++
			bytes += freed
		}
	}
	return n, bytes, nil
}

// dropLeftover removes id's leftover file unless the body is stored again,
// and returns its size (-1: the body is stored again; its file stays).
func (b *Backend) dropLeftover(id string) (int64, error) {
	l := b.blobLock(id)
	l.Lock()
	defer l.Unlock()
	if _, stored, err := b.get(blobKey(id)); err != nil {
		return 0, err
	} else if stored {
		if err := b.db.Delete(dropKey(id), pebble.NoSync); err != nil {
			return 0, mail.Unavailable("embedded: delete a body", err)
		}
		return -1, nil
	}
	var size int64
	if fi, err := b.fs.Stat(b.blobPath(id)); err == nil {
		size = fi.Size()
	}
	return size, b.dropFile(id)
}

var _ store.BlobPurger = (*Backend)(nil)
