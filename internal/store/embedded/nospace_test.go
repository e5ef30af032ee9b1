package embedded_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/store/storetest"
)

// fullDisk fails writes of body files with ENOSPC while on. Only body
// files: Pebble ends the process on a failed log write (space.go).
type fullDisk struct{ on atomic.Bool }

func (d *fullDisk) String() string { return "full disk" }

func (d *fullDisk) MaybeError(op errorfs.Op) error {
	if d.on.Load() && op.Kind == errorfs.OpFileWrite && strings.HasPrefix(op.Path, crashDir+"/tmp/") {
		return &os.PathError{Op: "write", Path: op.Path, Err: syscall.ENOSPC}
	}
	return nil
}

// diskFullStore opens a store on mem with bodies over 512 bytes in files,
// and a user.
func diskFullStore(t *testing.T, fs vfs.FS, minFree int64) (*store.Store, store.User) {
	t.Helper()
	o := crashOptions(fs)
	o.MinFree = minFree
	b, err := embedded.Open(crashDir, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(context.Background(), "a@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	return s, u
}

// deliverOnce spools raw and delivers it to u.
func deliverOnce(t *testing.T, s *store.Store, u store.User, raw []byte) error {
	t.Helper()
	sp, err := s.Spool(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	return s.Deliver(context.Background(), sp, "s@example.test", []store.User{u})[0]
}

// inboxBodies checks the INBOX's invariants and returns its bodies.
func inboxBodies(t *testing.T, s *store.Store, u store.User) [][]byte {
	t.Helper()
	ctx := context.Background()
	mb, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckMailbox(ctx, s, mb); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	err = s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		bl, err := s.OpenBody(ctx, r.Meta)
		if err != nil {
			return err
		}
		defer bl.Close()
		b := make([]byte, bl.Size())
		_, err = bl.ReadAt(b, 0)
		out = append(out, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func bigMessage() []byte {
	return []byte("Subject: big\r\n\r\n" + strings.Repeat("a line of a body that is stored in a file\r\n", 100))
}

// TestDiskFullBodyFile: a body file that meets ENOSPC fails the delivery
// with mail.ErrNoSpace (LMTP 452), leaves no message, no body and no
// temporary file, and the same delivery succeeds once there is space.
func TestDiskFullBodyFile(t *testing.T) {
	mem := vfs.NewMem()
	disk := &fullDisk{}
	s, u := diskFullStore(t, errorfs.Wrap(mem, disk), 0)
	raw := bigMessage()
	disk.on.Store(true)
	err := deliverOnce(t, s, u, raw)
	if !errors.Is(err, mail.ErrNoSpace) || !mail.Temporary(err) {
		t.Fatalf("delivery on a full disk: %v, want mail.ErrNoSpace and temporary", err)
	}
	if got := inboxBodies(t, s, u); len(got) != 0 {
		t.Fatalf("a failed delivery left %d messages", len(got))
	}
	if ok, err := s.Backend().HasBlob(context.Background(), blobOf(raw)); ok || err != nil {
		t.Fatalf("a failed body write left its body (%v)", err)
	}
	if left, err := mem.List(crashDir + "/tmp"); len(left) != 0 || err != nil {
		t.Fatalf("tmp/ holds %v (%v) after a failed body write", left, err)
	}
	disk.on.Store(false)
	if err := deliverOnce(t, s, u, raw); err != nil {
		t.Fatalf("delivery once the disk has space: %v", err)
	}
	if got := inboxBodies(t, s, u); len(got) != 1 || !bytes.Equal(got[0], raw) {
		t.Fatalf("INBOX after the retry: %d messages", len(got))
	}
}

// TestDiskReserve: below Options.MinFree free bytes, deliveries are
// refused with mail.ErrNoSpace before anything is written; above, they
// are taken.
func TestDiskReserve(t *testing.T) {
	mem := vfs.NewMem()
	s, u := diskFullStore(t, mem, 64<<20)
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 10 << 20, TotalBytes: 1 << 30})
	small := []byte("Subject: small\r\n\r\nhello\r\n")
	for _, raw := range [][]byte{small, bigMessage()} {
		err := deliverOnce(t, s, u, raw)
		if !errors.Is(err, mail.ErrNoSpace) || !mail.Temporary(err) {
			t.Fatalf("delivery below the reserve: %v, want mail.ErrNoSpace and temporary", err)
		}
		if ok, err := s.Backend().HasBlob(context.Background(), blobOf(raw)); ok || err != nil {
			t.Fatalf("a refused delivery stored its body (%v)", err)
		}
	}
	if got := inboxBodies(t, s, u); len(got) != 0 {
		t.Fatalf("refused deliveries left %d messages", len(got))
	}
	mem.TestingSetDiskUsage(vfs.DiskUsage{AvailBytes: 100 << 20, TotalBytes: 1 << 30})
	if err := deliverOnce(t, s, u, small); err != nil {
		t.Fatalf("delivery above the reserve: %v", err)
	}
	if got := inboxBodies(t, s, u); len(got) != 1 || !bytes.Equal(got[0], small) {
		t.Fatalf("INBOX: %d messages", len(got))
	}
}

// blobOf is the ID a body is stored under: its SHA-256.
func blobOf(raw []byte) store.BlobID {
	sum := sha256.Sum256(raw)
	return store.BlobID(hex.EncodeToString(sum[:]))
}
