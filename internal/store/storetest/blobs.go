package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

func blobID(data []byte) store.BlobID {
	h := sha256.Sum256(data)
	return store.BlobID(hex.EncodeToString(h[:]))
}

func (e *env) readBlob(id store.BlobID) []byte {
	e.t.Helper()
	b, err := e.b.OpenBlob(e.ctx, id)
	if err != nil {
		e.t.Fatalf("OpenBlob: %v", err)
	}
	defer b.Close()
	out, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		e.t.Fatalf("read blob: %v", err)
	}
	return out
}

func testBlobs(t testing.TB, e *env) {
	data := []byte("Subject: blob " + randHex(8) + "\r\n\r\nhello\r\n")
	id := blobID(data)
	if ok, err := e.b.HasBlob(e.ctx, id); err != nil || ok {
		t.Fatalf("HasBlob before put: %v %v", ok, err)
	}
	if _, err := e.b.OpenBlob(e.ctx, id); !errors.Is(err, mail.ErrNoBlob) {
		t.Fatalf("OpenBlob missing: %v", err)
	}
	for range 2 { // idempotent
		if err := e.b.PutBlob(e.ctx, id, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := e.b.HasBlob(e.ctx, id); !ok {
		t.Fatalf("HasBlob after put: %v, %v", ok, err)
	}
	if got := e.readBlob(id); !bytes.Equal(got, data) {
		t.Fatalf("blob round trip: %q", got)
	}
	b, err := e.b.OpenBlob(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := make([]byte, 5)
	if n, err := b.ReadAt(p, int64(len(data)-5)); n != 5 || string(p) != "llo\r\n" || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt tail: %d %q %v", n, p, err)
	}
	if n, err := b.ReadAt(p, int64(len(data)-2)); n != 2 || err != io.EOF {
		t.Fatalf("ReadAt past end: %d %v", n, err)
	}
}

func testLargeBlob(t testing.TB, e *env) {
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 5<<20+12345)
	for i := range data {
		// Half random, half text: exercises compression both ways.
		if (i/100000)%2 == 0 {
			data[i] = byte(rng.Uint32())
		} else {
			data[i] = "abcdefgh\r\n"[i%10]
		}
	}
	copy(data, randHex(16))
	id := blobID(data)
	if err := e.b.PutBlob(e.ctx, id, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	b, err := e.b.OpenBlob(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Size() != int64(len(data)) {
		t.Fatalf("Size %d, want %d", b.Size(), len(data))
	}
	for _, off := range []int64{0, 1, 65535, 65536, 262143, 262144, 1 << 20, int64(len(data)) - 70000} {
		p := make([]byte, 70000)
		n, err := b.ReadAt(p, off)
		want := data[off:min(off+70000, int64(len(data)))]
		if n != len(want) || !bytes.Equal(p[:n], want) || (err != nil && err != io.EOF) {
			t.Fatalf("ReadAt(%d): n=%d err=%v, bytes equal=%v", off, n, err, bytes.Equal(p[:n], want))
		}
	}
	if got := e.readBlob(id); !bytes.Equal(got, data) {
		t.Fatal("large blob round trip differs")
	}
	// A wrong size is refused, not stored short.
	other := append([]byte("x"), data[:1000]...)
	if err := e.b.PutBlob(e.ctx, blobID(other), int64(len(other)+5), bytes.NewReader(other)); err == nil {
		t.Fatal("PutBlob accepted a body shorter than its size")
	}
	if ok, err := e.b.HasBlob(e.ctx, blobID(other)); ok || err != nil {
		t.Fatalf("a short body became visible: %v, %v", ok, err)
	}
}

func testDeliverShared(t testing.TB, e *env) {
	us := []store.User{e.user(), e.user(), e.user()}
	raw := "From: x@example.test\r\nSubject: shared " + randHex(6) + "\r\n\r\nhi\r\n"
	sp, err := e.s.Spool(bytes.NewReader([]byte(raw)), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i, err := range e.s.Deliver(e.ctx, sp, "x@example.test", us) {
		if err != nil {
			t.Fatalf("recipient %d: %v", i, err)
		}
	}
	var blobs []store.BlobID
	for _, u := range us {
		rows := e.rows(e.mailbox(u, "INBOX"))
		if len(rows) != 1 || rows[0].Meta.ReturnPath != "x@example.test" {
			t.Fatalf("INBOX rows %+v", rows)
		}
		blobs = append(blobs, rows[0].Meta.Blob)
	}
	if blobs[0] != blobs[1] || blobs[1] != blobs[2] || blobs[0] != blobID([]byte(raw)) {
		t.Fatalf("recipients do not share one body: %v", blobs)
	}
	if got := e.readBlob(blobs[0]); string(got) != raw {
		t.Fatalf("body %q", got)
	}
}

// testMalformed stores each message of internal/message/testdata byte for
// byte: parsing is best effort and never rejects mail (DESIGN.md 3.5).
func testMalformed(t testing.TB, e *env) {
	_, file, _, _ := runtime.Caller(0)
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(file), "..", "..", "message", "testdata", "*.eml"))
	if len(files) == 0 {
		t.Fatal("no malformed messages found in internal/message/testdata")
	}
	u := e.user()
	in := e.mailbox(u, "INBOX")
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sp, err := e.s.Spool(bytes.NewReader(raw), 0)
		if err != nil {
			t.Fatalf("%s: spool: %v", f, err)
		}
		errs := e.s.Deliver(e.ctx, sp, "", []store.User{u})
		sp.Close()
		if errs[0] != nil {
			t.Fatalf("%s: deliver: %v", f, errs[0])
		}
		rows := e.rows(in)
		last := rows[len(rows)-1]
		if got := e.readBlob(last.Meta.Blob); !bytes.Equal(got, raw) {
			t.Fatalf("%s: stored body differs from what was delivered", filepath.Base(f))
		}
		if len(last.Meta.Structure) == 0 {
			t.Fatalf("%s: no structure stored", filepath.Base(f))
		}
	}
	e.check(in)
}
