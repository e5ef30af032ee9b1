package embedded

import (
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// syncCounter wraps the store's file system and counts the syncs made
// through it: Pebble's (write-ahead log, tables, manifest) and the body
// files' and directories'. A delivery's cost on a disk is mostly its
// syncs, and Pebble commits concurrent writers with one log sync, so
// deliveries per sync (Syncs, quire_store_fsyncs_total, bench/lmtp)
// tells how well they are grouped.
type syncCounter struct {
	vfs.FS
	n *atomic.Int64
}

func (fs syncCounter) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	return syncCountedFile{f, fs.n}, nil
}

func (fs syncCounter) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.Create(name, c))
}

func (fs syncCounter) Open(name string, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.Open(name, opts...))
}

func (fs syncCounter) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenReadWrite(name, c, opts...))
}

func (fs syncCounter) OpenDir(name string) (vfs.File, error) {
	return fs.wrap(fs.FS.OpenDir(name))
}

func (fs syncCounter) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return fs.wrap(fs.FS.ReuseForWrite(oldname, newname, c))
}

func (fs syncCounter) Unwrap() vfs.FS { return fs.FS }

type syncCountedFile struct {
	vfs.File
	n *atomic.Int64
}

func (f syncCountedFile) Sync() error {
	f.n.Add(1)
	return f.File.Sync()
}

func (f syncCountedFile) SyncData() error {
	f.n.Add(1)
	return f.File.SyncData()
}

func (f syncCountedFile) SyncTo(length int64) (bool, error) {
	f.n.Add(1)
	return f.File.SyncTo(length)
}

// Syncs returns the syncs of the store's files and directories since
// Open (fsync(2), fdatasync(2) or sync_file_range(2) through the FS).
func (b *Backend) Syncs() int64 { return b.syncs.Load() }
