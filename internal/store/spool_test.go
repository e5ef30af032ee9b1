package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
)

// TestSpoolSizes: a message of any size around the in-memory bound and
// the buffer's doublings is kept whole, in memory up to SpoolMemory and in
// a file past it, with its hash, size and structure, however the reader
// splits it, in a slice of its size; past maxSize it is refused.
func TestSpoolSizes(t *testing.T) {
	const memMax = 2*spoolFirst + 1000
	s := New(nil, Options{SpoolMemory: memMax, TempDir: t.TempDir()})
	for _, size := range []int{0, 1, spoolFirst - 1, spoolFirst, spoolFirst + 1, 2 * spoolFirst, memMax - 1, memMax, memMax + 1, 3 * memMax} {
		msg := message1(size)
		for name, r := range map[string]io.Reader{"whole": strings.NewReader(msg), "a byte at a time": iotest.OneByteReader(strings.NewReader(msg)), "half": iotest.HalfReader(strings.NewReader(msg))} {
			sp, err := s.Spool(r, 0)
			if err != nil {
				t.Fatalf("%d bytes, %s: %v", size, name, err)
			}
			sum := sha256.Sum256([]byte(msg))
			got, _ := io.ReadAll(sp.Reader())
			if sp.ID != BlobID(hex.EncodeToString(sum[:])) || sp.Size != int64(len(msg)) || string(got) != msg {
				t.Errorf("%d bytes, %s: ID %s size %d, %d bytes read back; want the message's", size, name, sp.ID, sp.Size, len(got))
			}
			if sp.file == nil && cap(sp.mem) > len(sp.mem)+len(sp.mem)/8+64 {
				t.Errorf("%d bytes, %s: held in %d bytes", size, name, cap(sp.mem))
			}
			if inFile := sp.file != nil; inFile != (len(msg) > memMax) {
				t.Errorf("%d bytes, %s: in a file %v, want %v", size, name, inFile, len(msg) > memMax)
			}
			if want, _ := message.Scan(strings.NewReader(msg), message.DefaultLimits()); !reflect.DeepEqual(sp.Part, want) {
				t.Errorf("%d bytes, %s: structure differs from Scan's", size, name)
			}
			sp.Close()
		}
		if size > 100 {
			if _, err := s.Spool(strings.NewReader(msg), int64(len(msg)-1)); !errors.Is(err, mail.ErrTooBig) {
				t.Errorf("%d bytes with a bound one byte less: %v, want ErrTooBig", len(msg), err)
			}
			if sp, err := s.Spool(strings.NewReader(msg), int64(len(msg))); err != nil {
				t.Errorf("%d bytes with a bound of its size: %v", len(msg), err)
			} else {
				sp.Close()
			}
		}
	}
	if _, err := s.Spool(iotest.ErrReader(io.ErrUnexpectedEOF), 0); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a broken connection: %v, want its error", err)
	}
}

// message1 is a message of exactly size bytes (its header alone when
// size is smaller than the header).
func message1(size int) string {
	h := "Subject: spool\r\nContent-Type: text/plain\r\n\r\n"
	if size <= len(h) {
		return h[:size]
	}
	var b strings.Builder
	b.WriteString(h)
	for i := 0; b.Len() < size; i++ {
		b.WriteString(fmt.Sprintf("line %d of the body\r\n", i))
	}
	return b.String()[:size]
}
