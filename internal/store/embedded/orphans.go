package embedded

import (
	"context"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// Orphaned body files (store.OrphanPurger). writeBlobFile renames a body
// file into blobs/ and sets its key under the body's lock, the key
// without a sync of its own: it becomes durable with the commit that
// points at it. A crash before that sync leaves the file with no key, and
// no row can point at it (the commit that would have is lost too), so
// unless the same bytes are delivered again it stays forever. A file with
// neither a key (b/) nor a pending removal (d/, PurgeLeftovers) is such an
// orphan; under the body's lock no write is between its rename and its key,
// so the check is exact, and the file's age (older than the grace) only
// spares a file that a write is still about to name. Inline bodies and
// the other records are written in one batch with what reaches them, or
// before a commit that, if lost, leaves nothing else: they leave no
// orphans.
func (b *Backend) PurgeOrphans(ctx context.Context, before time.Time, _ func(store.BlobID) bool, dryRun bool) (store.OrphanStats, error) {
	var st store.OrphanStats
	root := b.fs.PathJoin(b.dir, "blobs")
	for i := range 256 {
		dir := b.fs.PathJoin(root, fmt.Sprintf("%02x", i))
		names, err := b.fs.List(dir)
		if err != nil {
			return st, fmt.Errorf("embedded: list %s: %w", dir, err)
		}
		for _, id := range names {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if !store.BlobID(id).Valid() || id[:2] != fmt.Sprintf("%02x", i) {
				continue // not a body file: left alone
			}
			size, err := b.dropOrphan(id, before, dryRun)
			if err != nil {
				return st, err
			}
			if size >= 0 {
				st.Files++
				st.Bytes += size
			}
		}
	}
	return st, nil
}

// dropOrphan removes id's body file if it is an orphan older than before
// (with dryRun, only reports it), and returns its size; -1 if it is not
// one.
func (b *Backend) dropOrphan(id string, before time.Time, dryRun bool) (int64, error) {
	l := b.blobLock(id)
	l.Lock()
	defer l.Unlock()
	for _, k := range [][]byte{blobKey(id), dropKey(id)} {
		if _, ok, err := b.get(k); err != nil || ok {
			return -1, err
		}
	}
	fi, err := b.fs.Stat(b.blobPath(id))
	if err != nil || !fi.ModTime().Before(before) {
		return -1, nil // gone meanwhile, or written within the grace
	}
	if dryRun {
		return fi.Size(), nil
	}
	if err := b.fs.Remove(b.blobPath(id)); err != nil {
		return -1, fmt.Errorf("embedded: remove the orphaned body file %s: %w", id, err)
	}
	return fi.Size(), nil
}

var _ store.OrphanPurger = (*Backend)(nil)
