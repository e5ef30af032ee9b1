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

// HasBlob implements store.Blobs.
func (b *Backend) HasBlob(ctx context.Context, id store.BlobID) (bool, error) {
	var size int64
	return b.getMsg(ctx, "read body header", b.q.blobGet, []any{string(id)}, &size, new(int), new(int), new(string))
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
	// round trip per delivery. Larger bodies are looked up to save writes.
	if size > int64(cs) {
		if ok, err := b.HasBlob(ctx, id); err != nil || ok {
			return err
		}
	}
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
						return b.exec(ctx, b.msg, b.write, "write body chunk", b.q.chunkInsert, string(id), i, data)
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
	return b.exec(ctx, b.msg, b.write, "write body header", b.q.blobInsert,
		string(id), size, cs, n, compression, time.Now().UTC().Truncate(time.Millisecond))
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
	var comp string
	ok, err := b.getMsg(ctx, "read body header", b.q.blobGet, []any{string(id)}, &bl.size, &bl.chunkSize, &bl.chunks, &comp)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", mail.ErrNoBlob, id)
	}
	if comp != compression || bl.chunkSize <= 0 || int64(bl.chunks) != (bl.size+int64(bl.chunkSize)-1)/int64(bl.chunkSize) {
		return nil, fmt.Errorf("cassandra: body %s: bad header (compression %q, %d chunks of %d for %d bytes)",
			id, comp, bl.chunks, bl.chunkSize, bl.size)
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
	want := min(int64(bl.chunkSize), bl.size-int64(i)*int64(bl.chunkSize))
	if !ok || len(stored) == 0 {
		return nil, fmt.Errorf("cassandra: %s: %w (chunk missing)", op, mail.ErrNoBlob)
	}
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
	bl.mu.Lock()
	bl.mu.index, bl.mu.data = i, data
	bl.mu.Unlock()
	return data, nil
}
