package cassandra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// A body is stored as chunks of ChunkSize raw bytes, one partition each
// (blob_chunks), each compressed on its own so that ReadAt fetches and
// decompresses only what it needs. A chunk's first byte says how: chunkRaw
// or chunkZstd. The header row (blobs) is written last, so a body is
// visible only when whole.
const (
	chunkRaw    = 0
	chunkZstd   = 1
	compression = "zstd-per-chunk"
	putParallel = 4 // chunk writes in flight per PutBlob
)

// HasBlob implements store.Blobs. A header row without its compression
// is not a body: it is a claim (purge.go) that outlived a deletion.
func (b *Backend) HasBlob(ctx context.Context, id store.BlobID) (bool, error) {
	var size int64
	var comp string
	ok, err := b.getMsg(ctx, "read body header", b.q.blobGet, []any{string(id)}, &size, new(int), new(int), &comp)
	return ok && comp != "", err
}

func (b *Backend) getMsg(ctx context.Context, op, stmt string, args []any, dest ...any) (bool, error) {
	return b.get(ctx, b.msg, op, stmt, args, dest...)
}

// PutBlob implements store.Blobs. A body already stored is not read again.
func (b *Backend) PutBlob(ctx context.Context, id store.BlobID, size int64, r io.Reader) error {
	if !id.Valid() {
		return fmt.Errorf("cassandra: put body: bad id %q", id)
	}
	cs := b.opts.ChunkSize
	// A body of one chunk is written again rather than looked up first:
	// the write is idempotent (same bytes under the same id) and saves a
	// round trip per delivery; its header's created is its claim against
	// the purge (purge.go). Larger bodies are claimed and looked up, to
	// save writes.
	if size <= int64(cs) {
		return b.putOneChunk(ctx, id, size, r)
	}
	whole, condemned, err := b.claim(ctx, id)
	if err != nil || (whole && !condemned) {
		return err
	}
	if err := b.putChunks(ctx, id, size, r); err != nil {
		return err
	}
	return b.uncondemn(ctx, id, condemned)
}

// putChunks writes a body of more than one chunk: the chunks, then the
// header.
func (b *Backend) putChunks(ctx context.Context, id store.BlobID, size int64, r io.Reader) error {
	cs := b.opts.ChunkSize
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, putParallel)
		total int64
		n     int
	)
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
	for {
		// Room for one byte past the announced size, to notice a longer body.
		buf := make([]byte, min(int64(cs), size-total+1))
		k, rerr := io.ReadFull(r, buf)
		if k > 0 {
			total += int64(k)
			if total > size {
				rerr = fmt.Errorf("cassandra: put body %s: more than the %d bytes announced", id, size)
			} else {
				data := b.encodeChunk(buf[:k])
				i := n
				n++
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer func() { <-sem; wg.Done() }()
					err := b.sup.Do("cassandra: write body chunk", func() error {
						return b.execDurable(ctx, b.msg, "write body chunk", b.q.chunkInsert, string(id), i, data)
					})
					if err != nil {
						mu.Lock()
						first = cmp(first, err)
						mu.Unlock()
					}
				}()
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			wg.Wait()
			return fmt.Errorf("cassandra: put body %s: %w", id, rerr)
		}
		if err := failed(); err != nil {
			break
		}
	}
	wg.Wait()
	if err := failed(); err != nil {
		return err
	}
	if total != size {
		return fmt.Errorf("cassandra: put body %s: got %d bytes, want %d", id, total, size)
	}
	return b.execDurable(ctx, b.msg, "write body header", b.q.blobInsert,
		string(id), size, cs, n, compression, time.Now().UTC().Truncate(time.Millisecond))
}

// putOneChunk stores a body of at most one chunk (the great majority of
// mail): its chunk and its header row are written at once, not the chunk
// first, so a delivery waits for one round trip instead of two. That the
// header is written last matters only to whoever decides from it that a
// body is whole: PutBlob's lookup, which it makes for larger bodies only
// (one chunk is always written again), and readers, which reach a body
// only through a row committed after a PutBlob of it returned, that is
// after both writes were acknowledged. A failed write leaves at most a
// header without its chunk under an id that no row refers to, and the
// next put of the same bytes writes both again. The body is read whole
// and its size checked before anything is written.
func (b *Backend) putOneChunk(ctx context.Context, id store.BlobID, size int64, r io.Reader) error {
	buf := make([]byte, size+1) // a byte more, to notice a longer body
	k, err := io.ReadFull(r, buf)
	switch {
	case err != nil && err != io.ErrUnexpectedEOF && err != io.EOF:
		return fmt.Errorf("cassandra: put body %s: %w", id, err)
	case int64(k) > size:
		return fmt.Errorf("cassandra: put body %s: more than the %d bytes announced", id, size)
	case int64(k) != size:
		return fmt.Errorf("cassandra: put body %s: got %d bytes, want %d", id, k, size)
	}
	n := 0
	var chunk error
	var wg sync.WaitGroup
	if size > 0 {
		n = 1
		data := b.encodeChunk(buf[:k])
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk = b.sup.Do("cassandra: write body chunk", func() error {
				return b.execDurable(ctx, b.msg, "write body chunk", b.q.chunkInsert, string(id), 0, data)
			})
		}()
	}
	header := b.execDurable(ctx, b.msg, "write body header", b.q.blobInsert,
		string(id), size, b.opts.ChunkSize, n, compression, time.Now().UTC().Truncate(time.Millisecond))
	wg.Wait()
	return cmp(chunk, header)
}

func cmp(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (b *Backend) encodeChunk(raw []byte) []byte {
	z := b.enc.EncodeAll(raw, make([]byte, 1, len(raw)/2+16))
	if len(z) < len(raw)+1 {
		z[0] = chunkZstd
		return z
	}
	return append([]byte{chunkRaw}, raw...)
}

// OpenBlob implements store.Blobs.
func (b *Backend) OpenBlob(ctx context.Context, id store.BlobID) (store.Blob, error) {
	bl := &blob{b: b, ctx: context.WithoutCancel(ctx), id: string(id)}
	// The first chunk is read alongside the header (most bodies are one
	// chunk, and most reads start at the beginning): one round trip less
	// for a FETCH of a body. Whatever goes wrong with it, chunk reads it
	// again.
	var first []byte
	var firstOK bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = b.sup.Do("cassandra: read body chunk", func() (err error) {
			firstOK, err = b.getMsg(ctx, "read body chunk", b.q.chunkGet, []any{string(id), 0}, &first)
			return err
		})
	}()
	var comp string
	ok, err := b.getMsg(ctx, "read body header", b.q.blobGet, []any{string(id)}, &bl.size, &bl.chunkSize, &bl.chunks, &comp)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	if !ok || comp == "" {
		return nil, fmt.Errorf("%w: %s", mail.ErrNoBlob, id)
	}
	if comp != compression || bl.chunkSize <= 0 || int64(bl.chunks) != (bl.size+int64(bl.chunkSize)-1)/int64(bl.chunkSize) {
		return nil, fmt.Errorf("cassandra: body %s: bad header (compression %q, %d chunks of %d for %d bytes)",
			id, comp, bl.chunks, bl.chunkSize, bl.size)
	}
	if firstOK && bl.chunks > 0 {
		if data, err := bl.decode(0, first); err == nil {
			bl.mu.index, bl.mu.data = 0, data
		}
	}
	return bl, nil
}

// blob reads a stored body chunk by chunk, keeping the last chunk read.
type blob struct {
	b         *Backend
	ctx       context.Context
	id        string
	size      int64
	chunkSize int
	chunks    int

	mu struct {
		sync.Mutex
		index int
		data  []byte
	}
}

func (bl *blob) Size() int64 { return bl.size }

func (bl *blob) Close() error {
	bl.mu.Lock()
	defer bl.mu.Unlock()
	bl.mu.data = nil
	return nil
}

// ReadAt implements io.ReaderAt, fetching only the chunks it needs.
func (bl *blob) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("cassandra: body: negative offset")
	}
	n := 0
	for n < len(p) && off < bl.size {
		i := int(off / int64(bl.chunkSize))
		data, err := bl.chunk(i)
		if err != nil {
			return n, err
		}
		k := copy(p[n:], data[off-int64(i)*int64(bl.chunkSize):])
		n += k
		off += int64(k)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (bl *blob) chunk(i int) ([]byte, error) {
	bl.mu.Lock()
	if bl.mu.data != nil && bl.mu.index == i {
		d := bl.mu.data
		bl.mu.Unlock()
		return d, nil
	}
	bl.mu.Unlock()
	var stored []byte
	op := fmt.Sprintf("read body %s chunk %d", bl.id, i)
	ok, err := bl.b.getMsg(bl.ctx, op, bl.b.q.chunkGet, []any{bl.id, i}, &stored)
	if err != nil {
		return nil, err
	}
	if !ok {
		stored = nil
	}
	data, err := bl.decode(i, stored)
	if err != nil {
		return nil, err
	}
	bl.mu.Lock()
	bl.mu.index, bl.mu.data = i, data
	bl.mu.Unlock()
	return data, nil
}

// decode checks and decompresses chunk i as stored.
func (bl *blob) decode(i int, stored []byte) ([]byte, error) {
	op := fmt.Sprintf("read body %s chunk %d", bl.id, i)
	want := min(int64(bl.chunkSize), bl.size-int64(i)*int64(bl.chunkSize))
	if len(stored) == 0 {
		return nil, fmt.Errorf("cassandra: %s: %w (chunk missing)", op, mail.ErrNoBlob)
	}
	var err error
	data := stored[1:]
	switch stored[0] {
	case chunkRaw:
	case chunkZstd:
		if data, err = bl.b.dec.DecodeAll(data, make([]byte, 0, want)); err != nil {
			return nil, fmt.Errorf("cassandra: %s: %w", op, err)
		}
	default:
		return nil, fmt.Errorf("cassandra: %s: unknown chunk encoding %d", op, stored[0])
	}
	if int64(len(data)) != want {
		return nil, fmt.Errorf("cassandra: %s: %d bytes, want %d", op, len(data), want)
	}
	return data, nil
}
