package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/quiremail/quire/internal/store"
)

// TestTornBodyFileNeverServed: a body file cut short at any length, or with
// any one byte changed, is either read back exactly or fails to read; no
// read returns other bytes, panics or hangs. The checks: the footer, the index
// against the file's length and the body's size, each chunk's decoded
// length, and zstd's checksum of each chunk.
func TestTornBodyFileNeverServed(t *testing.T) {
	mem := vfs.NewMem()
	s, u := diskFullStore(t, mem, 0)
	rng := rand.New(rand.NewPCG(5, 6))
	var b strings.Builder
	b.WriteString("Subject: torn\r\n\r\n")
	for b.Len() < 3000 {
		fmt.Fprintf(&b, "%x\r\n", rng.Uint64())
	}
	raw := []byte(b.String())
	if err := deliverOnce(t, s, u, raw); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mb, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var meta store.MessageMeta
	if err := s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error { meta = r.Meta; return nil }); err != nil {
		t.Fatal(err)
	}
	path := crashDir + "/blobs/" + string(meta.Blob[:2]) + "/" + string(meta.Blob)
	file := readMem(t, mem, path)
	if len(file) < 100 {
		t.Fatalf("the body file is %d bytes: not a file of several chunks", len(file))
	}
	check := func(what string, data []byte) {
		t.Helper()
		writeMem(t, mem, path, data)
		var got []byte
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			got, err = readBody(ctx, s, meta)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: reading the body hangs", what)
		}
		if err == nil && !bytes.Equal(got, raw) {
			t.Fatalf("%s: served %d bytes that are not the %d delivered", what, len(got), len(raw))
		}
	}
	for n := range len(file) {
		check(fmt.Sprintf("cut to %d of %d bytes", n, len(file)), file[:n])
	}
	for i := range file {
		for _, x := range []byte{0x01, 0x80} {
			torn := bytes.Clone(file)
			torn[i] ^= x
			check(fmt.Sprintf("byte %d of %d ^ %#x", i, len(file), x), torn)
		}
	}
	writeMem(t, mem, path, file)
	if got, err := readBody(ctx, s, meta); err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("the intact file: %v", err)
	}
}

// readBody reads a whole body, as FETCH would, also in small pieces.
func readBody(ctx context.Context, s *store.Store, m store.MessageMeta) ([]byte, error) {
	bl, err := s.OpenBody(ctx, m)
	if err != nil {
		return nil, err
	}
	defer bl.Close()
	whole, err := io.ReadAll(io.NewSectionReader(bl, 0, bl.Size()))
	if err != nil {
		return nil, err
	}
	var pieces []byte
	buf := make([]byte, 700)
	for off := int64(0); off < bl.Size(); off += int64(len(buf)) {
		n, err := bl.ReadAt(buf, off)
		if err != nil && err != io.EOF {
			return nil, err
		}
		pieces = append(pieces, buf[:n]...)
	}
	if !bytes.Equal(whole, pieces) {
		return nil, fmt.Errorf("read whole and in pieces, the body differs")
	}
	return whole, nil
}

func readMem(t *testing.T, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeMem(t *testing.T, fs vfs.FS, path string, data []byte) {
	t.Helper()
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Clone(data)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
