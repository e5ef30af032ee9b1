package embedded

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// A body is kept one of two ways, said by the first byte of its Pebble value:
// 'i' followed by the zstd-compressed body (small bodies), or 'f' meaning the
// body is the file blobs/<id[:2]>/<id>, written whole and fsynced first.
//
// The body's Pebble key is written without a sync of its own: the commit
// that makes a row point at it syncs the write-ahead log, and the log is
// one sequence, so that sync makes every earlier write durable too, the
// body's included (as for the index queue's marks). A crash before such a
// commit can lose the key, but then no row points at it, and the next
// delivery of the same content finds it missing and writes it again. This
// halves the log syncs of a delivery (bench/lmtp: two per delivery before).
//
// A body file is a sequence of independently compressed zstd chunks, so that
// ReadAt decompresses only what it needs, followed by a little-endian index of
// each chunk's compressed length and a footer: raw size (8 bytes), chunk size
// (4), chunk count (4) and fileMagic (8).
const (
	kindInline = 'i'
	kindFile   = 'f'
	fileMagic  = "QBLOBv1\x00"
	footerLen  = 24
)

func (b *Backend) blobPath(id string) string {
	return b.fs.PathJoin(b.dir, "blobs", id[:2], id)
}

// HasBlob implements store.Blobs.
func (b *Backend) HasBlob(_ context.Context, id store.BlobID) (bool, error) {
	_, ok, err := b.get(blobKey(string(id)))
	return ok, err
}

// PutBlob implements store.Blobs. It claims the body for the purge
// first (claim): a body found stored is then safe from any purge until
// the row that references it is committed.
func (b *Backend) PutBlob(ctx context.Context, id store.BlobID, size int64, r io.Reader) error {
	if !id.Valid() {
		return fmt.Errorf("embedded: put body: bad id %q", id)
	}
	if err := b.checkSpace(); err != nil {
		return err
	}
	if ok, err := b.claim(string(id)); err != nil || ok {
		return err
	}
	if size <= b.opts.InlineBlobMax {
		raw, err := io.ReadAll(io.LimitReader(r, size+1))
		if err != nil {
			return fmt.Errorf("embedded: put body: %w", err)
		}
		if int64(len(raw)) != size {
			return fmt.Errorf("embedded: put body %s: got %d bytes, want %d", id, len(raw), size)
		}
		v := b.enc.EncodeAll(raw, []byte{kindInline})
		if err := b.db.Set(blobKey(string(id)), v, pebble.NoSync); err != nil {
			return mail.Unavailable("embedded: put body", err)
		}
		return nil
	}
	return b.writeBlobFile(string(id), size, r)
}

// claim claims a body for a reference about to be committed: under the
// body's lock, it forgets any purge state (a purge deletes a body only
// if that state stays: DeleteBlob), and reports whether the body is
// stored. The delete need not be synced: the commit of the reference
// syncs the log, and without that commit there is no reference.
func (b *Backend) claim(id string) (bool, error) {
	l := b.blobLock(id)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(unrefKey(id)); err != nil {
		return false, err
	} else if ok {
		if err := b.db.Delete(unrefKey(id), pebble.NoSync); err != nil {
			return false, mail.Unavailable("embedded: claim body", err)
		}
	}
	_, ok, err := b.get(blobKey(id))
	return ok, err
}

// writeBlobFile writes the body file of id durably: the whole file is
// written to tmp/ and fsynced, renamed into blobs/<id[:2]>/, and that
// directory fsynced, all before the marker (set last, here) and the
// commit that point at it. The rename and the marker are made under the
// body's lock, so that a purge removing an earlier file of the same body
// (a leftover: PurgeLeftovers) never removes this one. Open made blobs/<id[:2]>/ and synced its entry: a directory made
// here would race a concurrent writer that finds it before its entry is
// durable.
func (b *Backend) writeBlobFile(id string, size int64, r io.Reader) error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := b.fs.PathJoin(b.dir, "tmp", id[:8]+"-"+hex.EncodeToString(rnd[:]))
	f, err := b.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return putErr("create "+tmp, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = b.fs.Remove(tmp)
		}
	}()
	defer f.Close()
	buf := make([]byte, b.opts.ChunkSize)
	var index []byte
	var total int64
	var comp []byte
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			total += int64(n)
			comp = b.enc.EncodeAll(buf[:n], comp[:0])
			// vfs.File.Write may change the slice; comp is scratch.
			if _, werr := f.Write(comp); werr != nil {
				return putErr("write "+tmp, werr)
			}
			index = binary.LittleEndian.AppendUint32(index, uint32(len(comp)))
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return fmt.Errorf("embedded: put body: %w", err)
		}
	}
	if total != size {
		return fmt.Errorf("embedded: put body %s: got %d bytes, want %d", id, total, size)
	}
	index = binary.LittleEndian.AppendUint64(index, uint64(total))
	index = binary.LittleEndian.AppendUint32(index, uint32(b.opts.ChunkSize))
	index = binary.LittleEndian.AppendUint32(index, uint32(len(index)-12)/4)
	index = append(index, fileMagic...)
	if _, err := f.Write(index); err != nil {
		return putErr("write "+tmp, err)
	}
	if !b.opts.NoSync {
		if err := f.Sync(); err != nil {
			return putErr("fsync "+tmp, err)
		}
	}
	l := b.blobLock(id)
	l.Lock()
	defer l.Unlock()
	dir := b.fs.PathDir(b.blobPath(id))
	// The directory is synced after the rename: a fault build can swap the
	// two (a wrong write order the crash test must catch).
	early := b.fault.syncBeforeRename() && !b.opts.NoSync
	if early {
		if err := syncDir(b.fs, dir); err != nil {
			return err
		}
	}
	if err := b.fs.Rename(tmp, b.blobPath(id)); err != nil {
		return putErr("rename "+tmp, err)
	}
	renamed = true
	if !b.opts.NoSync && !early {
		if err := syncDir(b.fs, dir); err != nil {
			return err
		}
	}
	if err := b.db.Set(blobKey(id), []byte{kindFile}, pebble.NoSync); err != nil {
		return mail.Unavailable("embedded: put body", err)
	}
	return nil
}

// putErr wraps a failed file operation of PutBlob: the delivery is to be
// retried (mail.Unavailable; a full disk is mail.ErrNoSpace as well).
func putErr(what string, err error) error {
	return mail.Unavailable("embedded: put body: "+what, err)
}

// OpenBlob implements store.Blobs.
func (b *Backend) OpenBlob(_ context.Context, id store.BlobID) (store.Blob, error) {
	v, ok, err := b.get(blobKey(string(id)))
	if err != nil {
		return nil, err
	}
	if !ok || len(v) == 0 {
		return nil, fmt.Errorf("%w: %s", mail.ErrNoBlob, id)
	}
	if v[0] == kindInline {
		raw, err := b.dec.DecodeAll(v[1:], nil)
		if err != nil {
			return nil, fmt.Errorf("embedded: body %s: %w", id, err)
		}
		return memBlob{bytes.NewReader(raw)}, nil
	}
	return b.openFile(string(id))
}

type memBlob struct{ *bytes.Reader }

func (memBlob) Close() error { return nil }

// fileBlob reads a chunked body file; it caches the last chunk it decoded.
type fileBlob struct {
	f       vfs.File
	b       *Backend
	size    int64
	chunk   int64
	offsets []int64 // compressed offset of chunk i; offsets[n] = end
	mu      sync.Mutex
	cached  int
	data    []byte
}

func (b *Backend) openFile(id string) (store.Blob, error) {
	f, err := b.fs.Open(b.blobPath(id))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", mail.ErrNoBlob, id, err)
	}
	fail := func(why string) (store.Blob, error) {
		f.Close()
		return nil, fmt.Errorf("embedded: body file %s: %s", id, why)
	}
	st, err := f.Stat()
	if err != nil || st.Size() < footerLen {
		return fail("too short")
	}
	var foot [footerLen]byte
	if _, err := f.ReadAt(foot[:], st.Size()-footerLen); err != nil || string(foot[16:]) != fileMagic {
		return fail("bad footer")
	}
	size := int64(binary.LittleEndian.Uint64(foot[0:]))
	chunk := int64(binary.LittleEndian.Uint32(foot[8:]))
	n := int64(binary.LittleEndian.Uint32(foot[12:]))
	if chunk <= 0 || n*4 > st.Size()-footerLen {
		return fail("bad index")
	}
	idx := make([]byte, n*4)
	if _, err := f.ReadAt(idx, st.Size()-footerLen-n*4); err != nil {
		return fail("bad index")
	}
	offs := make([]int64, n+1)
	for i := range n {
		offs[i+1] = offs[i] + int64(binary.LittleEndian.Uint32(idx[i*4:]))
	}
	// A torn or damaged file must fail, never be served: the chunks fill
	// the file up to the index, and there are as many as the size needs
	// (ReadAt checks each chunk's length and zstd its checksum).
	if offs[n] != st.Size()-footerLen-n*4 || size < 0 || n != (size+chunk-1)/chunk {
		return fail("index does not match the file")
	}
	return &fileBlob{f: f, b: b, size: size, chunk: chunk, offsets: offs, cached: -1}, nil
}

func (fb *fileBlob) Size() int64  { return fb.size }
func (fb *fileBlob) Close() error { return fb.f.Close() }

func (fb *fileBlob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("embedded: negative offset")
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	n := 0
	for n < len(p) && off < fb.size {
		ci := int(off / fb.chunk)
		if ci != fb.cached {
			if ci+1 >= len(fb.offsets) {
				return n, errors.New("embedded: body file shorter than its size")
			}
			comp := make([]byte, fb.offsets[ci+1]-fb.offsets[ci])
			if _, err := fb.f.ReadAt(comp, fb.offsets[ci]); err != nil {
				// Not io.EOF: that would end the body early, not fail it.
				return n, fmt.Errorf("embedded: body chunk %d: read: %v", ci, err)
			}
			data, err := fb.b.dec.DecodeAll(comp, fb.data[:0])
			if err != nil {
				return n, fmt.Errorf("embedded: body chunk %d: %w", ci, err)
			}
			if want := min(fb.chunk, fb.size-int64(ci)*fb.chunk); int64(len(data)) != want {
				return n, fmt.Errorf("embedded: body chunk %d: %d bytes, want %d", ci, len(data), want)
			}
			fb.data, fb.cached = data, ci
		}
		c := copy(p[n:], fb.data[off-int64(ci)*fb.chunk:])
		n += c
		off += int64(c)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
