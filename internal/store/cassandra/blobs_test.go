package cassandra

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

func blobID(data []byte) store.BlobID {
	h := sha256.Sum256(data)
	return store.BlobID(hex.EncodeToString(h[:]))
}

// countingReader counts the bytes PutBlob pulls.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestBlobChunks(t *testing.T) {
	const cs = 256 << 10
	b := openTest(t, func(o *Options) { o.ChunkSize = cs })
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(rand.Uint64(), 7))
	data := make([]byte, 5<<20)
	for i := range data {
		data[i] = byte(rng.Uint32())
		if i%(3*cs) > cs { // some chunks compress, some do not
			data[i] = "Received: from x\r\n"[i%18]
		}
	}
	id := blobID(data)
	if err := b.PutBlob(ctx, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	// Stored already: not read again.
	cr := &countingReader{r: bytes.NewReader(data)}
	if err := b.PutBlob(ctx, id, int64(len(data)), cr); err != nil || cr.n != 0 {
		t.Fatalf("second PutBlob read %d bytes, err %v", cr.n, err)
	}
	bl, err := openTest(t, nil).OpenBlob(ctx, id) // another host, default chunk size: the header rules
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	if bl.Size() != int64(len(data)) || bl.(*blob).chunks != 20 {
		t.Fatalf("size %d chunks %d", bl.Size(), bl.(*blob).chunks)
	}
	for _, c := range []struct{ off, n int64 }{
		{0, 1}, {cs - 1, 2}, {cs, cs}, {cs - 10, cs + 20}, {3*cs + 5, 1}, {int64(len(data)) - 1, 1},
		{int64(len(data)) - cs - 3, cs + 3}, {7 * cs, 3 * cs},
	} {
		p := make([]byte, c.n)
		n, err := bl.ReadAt(p, c.off)
		if n != int(c.n) || (err != nil && err != io.EOF) || !bytes.Equal(p, data[c.off:c.off+c.n]) {
			t.Fatalf("ReadAt(%d, %d): n=%d err=%v equal=%v", c.off, c.n, n, err, bytes.Equal(p[:n], data[c.off:c.off+int64(n)]))
		}
	}
	p := make([]byte, 10)
	if n, err := bl.ReadAt(p, int64(len(data))-4); n != 4 || err != io.EOF || !bytes.Equal(p[:4], data[len(data)-4:]) {
		t.Fatalf("ReadAt across the end: %d %v", n, err)
	}
	if n, err := bl.ReadAt(p, int64(len(data))); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt at the end: %d %v", n, err)
	}
	all, err := io.ReadAll(io.NewSectionReader(bl, 0, bl.Size()))
	if err != nil || !bytes.Equal(all, data) {
		t.Fatalf("whole body differs: %v", err)
	}

	// A body shorter or longer than announced is refused and stays invisible.
	for i, delta := range []int64{1, -1} {
		other := append([]byte{byte(i)}, data[:cs+100]...)
		size := int64(len(other)) + delta
		oid := blobID(other)
		if err := b.PutBlob(ctx, oid, size, bytes.NewReader(other)); err == nil {
			t.Fatalf("PutBlob accepted %d bytes announced as %d", len(other), size)
		}
		if ok, err := b.HasBlob(ctx, oid); ok || err != nil {
			t.Fatalf("refused body visible: %v %v", ok, err)
		}
		if _, err := b.OpenBlob(ctx, oid); !errors.Is(err, mail.ErrNoBlob) {
			t.Fatalf("OpenBlob of refused body: %v", err)
		}
	}
	// The empty body.
	if err := b.PutBlob(ctx, blobID(nil), 0, bytes.NewReader(nil)); err != nil {
		t.Fatal(err)
	}
	if e, err := b.OpenBlob(ctx, blobID(nil)); err != nil || e.Size() != 0 {
		t.Fatalf("empty body: %v", err)
	}
}
