// Package embedded is the single-machine backend: metadata in Pebble, message
// bodies compressed and content-addressed under one data directory.
//
// Layout of the data directory:
//
//	meta/            Pebble: users, mailboxes, heads, rows, change log, small bodies
//	blobs/ab/<id>    bodies larger than InlineBlobMax, chunked zstd files
//	                 (Open makes the 256 blobs/ab and syncs their entries)
//	tmp/             bodies being written; emptied at Open
//
// Invariants:
//   - A body is durable before any commit that points at it returns: a
//     body file is fsynced and renamed into place with its directory
//     fsynced before PutBlob returns, and a body's Pebble key precedes the
//     commit in the write-ahead log that commit syncs. Metadata never
//     points at a missing body.
//   - Commit is a compare-and-set on the mailbox head under the mailbox's
//     lock, applied as one synced Pebble batch: head, rows and change-log
//     entries land together or not at all.
//   - A body file is served whole or not at all: its index must fill the
//     file and match its size, and each chunk must decode (zstd checksum)
//     to its length.
//   - Every file operation goes through Options.FS (Pebble's and the
//     body files'), so tests crash the store at each sync (crash_test.go).
//   - Readers use Pebble iterators, which see a consistent snapshot.
//   - A body is claimed (its purge state cleared) under its lock before a
//     row may reference it, and the purge deletes a body only under the
//     same lock and only if that state is still the one it read, so the
//     purge never deletes a body a row references (purge.go).
//   - A trimmed change log begins with its floor marker (UID 0), written
//     in the batch that deletes the entries below it, so Changes from
//     below the floor fails with store.ErrLogTrimmed, never a short list
//     (logtrim.go).
//   - A body file without a key is an orphan only when checked under the
//     body's lock, where no write is between a file's rename and its key
//     (orphans.go).
//   - One process owns the directory (Pebble's lock); other processes, such
//     as the admin command, go through the running server.
package embedded

import (
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/klauspost/compress/zstd"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
)

// Options configure the backend.
type Options struct {
	Logger *slog.Logger
	// InlineBlobMax is the largest body kept inside Pebble; larger bodies
	// are files. Small bodies ride Pebble's group-committed WAL instead of
	// costing a file and two fsyncs each.
	InlineBlobMax int64
	// ChunkSize is the raw size of each compressed chunk of a body file.
	ChunkSize int
	// NoSync skips fsyncs. Only for tests that measure nothing about
	// durability.
	NoSync bool
	// CacheSize is Pebble's block cache in bytes (default 128 MiB). Rows
	// and small bodies are read from it decompressed.
	CacheSize int64
	// TextTTL is how long converted text stays in the conversion cache
	// (store.cachettl, default 14 days).
	TextTTL time.Duration
	// TextPurgeEvery is how often expired conversion-cache entries are
	// deleted (default 1 hour; negative: never, PurgeText only).
	// Expired entries already read as missing; the purge frees the disk.
	TextPurgeEvery time.Duration
	// MinFree is the free space, in bytes, below which new bodies are
	// refused with mail.ErrNoSpace (space.go); 0: none.
	MinFree int64
	// FS is the file system under the data directory, for Pebble and the
	// body files alike (default vfs.Default, the operating system's). Tests
	// pass a crashable in-memory one to crash at every sync point.
	FS vfs.FS
}

// ErrLocked reports that another process has the data directory open.
var ErrLocked = errors.New("embedded: data directory is in use by another process (is quire serve running?)")

// Backend is the embedded store.Backend.
type Backend struct {
	dir   string
	fs    vfs.FS
	db    *pebble.DB
	opts  Options
	log   *slog.Logger
	wsync *pebble.WriteOptions
	enc   *zstd.Encoder
	dec   *zstd.Decoder
	locks [256]sync.Mutex // mailbox commit locks, by hash of mailbox ID
	ulock [64]sync.Mutex  // user locks (uidvalidity, mailbox names)
	block [64]sync.Mutex  // body locks: claims against the purge (purge.go)
	qlock sync.Mutex      // the index queue's read-compare-delete
	low   lowHints        // per mailbox, a UID with no row below it (lowhint.go)
	stop  chan struct{}   // closed by Close: background work ends
	bg    sync.WaitGroup
	sup   *supervise.Supervisor                       // recovers panics in background work
	fault faults                                      // test-only switches (faults_on.go); constants in production
	purge struct{ runs, failed, purged atomic.Int64 } // PurgeText's counts
	syncs *atomic.Int64                               // syncs through fs (syncfs.go)
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Backend, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.InlineBlobMax <= 0 {
		opts.InlineBlobMax = 128 << 10
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 256 << 10
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	nsync := new(atomic.Int64)
	var fs vfs.FS = syncCounter{opts.FS, nsync}
	// blobs/ has its 256 subdirectories from the start: one made by
	// PutBlob would race a concurrent writer that finds it before its
	// entry in blobs/ is durable.
	_, statErr := fs.Stat(dir)
	created := statErr != nil // then its entry in its parent needs a sync too
	dirs := []string{dir, fs.PathJoin(dir, "tmp")}
	for i := range 256 {
		dirs = append(dirs, fs.PathJoin(dir, "blobs", fmt.Sprintf("%02x", i)))
	}
	for _, d := range dirs {
		if err := fs.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("embedded: create %s: %w", d, err)
		}
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 128 << 20
	}
	if opts.TextTTL <= 0 {
		opts.TextTTL = 14 * 24 * time.Hour
	}
	if opts.TextPurgeEvery == 0 {
		opts.TextPurgeEvery = time.Hour
	}
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{Logger: quietLogger{opts.Logger}, Cache: cache, FS: fs}
	// Bloom filters on every level (set on L0, the others inherit): most
	// point reads ask for a key that is not there (a delivery's body and
	// purge-claim keys, a cache miss), and a filter answers those without
	// searching each file's index.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(fs.PathJoin(dir, "meta"), po)
	if err != nil {
		if isLockErr(err) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("embedded: open %s: %w", dir, err)
	}
	// Only the owner of the directory (Pebble's lock, held from here) clears
	// what a crashed owner left in tmp/: a refused Open must not remove the
	// bodies a running owner is writing there.
	tmp := fs.PathJoin(dir, "tmp")
	if names, err := fs.List(tmp); err == nil {
		for _, n := range names {
			_ = fs.Remove(fs.PathJoin(tmp, n))
		}
	}
	// The entries of meta/, blobs/ (with its subdirectories) and tmp/, and
	// the directory's own if Open made it, are made durable before anything
	// is written under them: Pebble syncs only inside meta/.
	if !opts.NoSync {
		syncs := []string{dir, fs.PathJoin(dir, "blobs")}
		if created {
			syncs = append(syncs, fs.PathDir(dir))
		}
		for _, d := range syncs {
			if err := syncDir(fs, d); err != nil {
				db.Close()
				return nil, err
			}
		}
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	b := &Backend{dir: dir, fs: fs, db: db, opts: opts, log: opts.Logger, enc: enc, dec: dec, wsync: pebble.Sync, stop: make(chan struct{}),
		sup: supervise.New(supervise.Options{Logger: opts.Logger}), syncs: nsync}
	if opts.NoSync {
		b.wsync = pebble.NoSync
	}
	if opts.TextPurgeEvery > 0 {
		b.bg.Go(func() { b.purgeTextEvery(opts.TextPurgeEvery) })
	}
	return b, nil
}

// Panics returns the number of panics recovered in background work (each
// logged with its stack).
func (b *Backend) Panics() int64 { return b.sup.Panics() }

// Local implements store.Local: every read and write is on this machine.
func (b *Backend) Local() bool { return true }

var _ store.Local = (*Backend)(nil)

// Close closes the store.
func (b *Backend) Close() error {
	close(b.stop)
	b.bg.Wait()
	b.dec.Close()
	return b.db.Close()
}

func (b *Backend) mailboxLock(id string) *sync.Mutex {
	return &b.locks[b.mailboxStripe(id)]
}

func (b *Backend) mailboxStripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(len(b.locks)))
}

// lockMailboxes takes the commit locks of the mailboxes ids, each stripe
// once and in stripe order (no other path holds two: no cycle), and
// returns their release.
func (b *Backend) lockMailboxes(ids []string) (unlock func()) {
	stripes := make([]int, len(ids))
	for i, id := range ids {
		stripes[i] = b.mailboxStripe(id)
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		b.locks[i].Lock()
	}
	return func() {
		for _, i := range stripes {
			b.locks[i].Unlock()
		}
	}
}

func (b *Backend) blobLock(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &b.block[h.Sum32()%uint32(len(b.block))]
}

func (b *Backend) userLock(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &b.ulock[h.Sum32()%uint32(len(b.ulock))]
}

// syncDir makes the entries of directory d durable (fsync(2) of the
// directory: a new or renamed entry is otherwise lost by a crash).
func syncDir(fs vfs.FS, d string) error {
	f, err := fs.OpenDir(d)
	if err != nil {
		return mail.Unavailable("embedded: open directory "+d+" to sync it", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return mail.Unavailable("embedded: fsync directory "+d, err)
	}
	return nil
}

// get returns a copy of the value at key, or nil, false.
func (b *Backend) get(key []byte) ([]byte, bool, error) {
	v, closer, err := b.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("embedded: read: %w", err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

// scan calls fn for each key in [lo, hi) in order.
func (b *Backend) scan(lo, hi []byte, fn func(k, v []byte) error) error {
	it, err := b.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("embedded: iterate: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("embedded: iterate: %w", err)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}

// isLockErr reports whether Open failed because another process holds the
// directory's lock.
func isLockErr(err error) bool {
	// Another process: flock fails with EAGAIN. This process: Pebble says so.
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) ||
		strings.Contains(err.Error(), "lock held by current process")
}

// quietLogger routes Pebble's logs to slog.
type quietLogger struct{ l *slog.Logger }

func (q quietLogger) Infof(format string, args ...any) {
	q.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Errorf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}
func (q quietLogger) Fatalf(format string, args ...any) {
	q.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
	os.Exit(1)
}
