package embedded_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/store/storetest"
)

func open(t *testing.T, dir string) *embedded.Backend {
	t.Helper()
	b, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Backend { return open(t, t.TempDir()) },
		DropChange: func(t testing.TB, b store.Backend, mailboxID string, m mail.ModSeq, uid mail.UID) {
			if err := embedded.DropChange(b.(*embedded.Backend), mailboxID, m, uid); err != nil {
				t.Fatal(err)
			}
		},
		PlantOrphans: func(t testing.TB, sb store.Backend, _ string, at time.Time) (int, func() int) {
			b := sb.(*embedded.Backend)
			sum := sha256.Sum256([]byte(at.String() + t.Name()))
			id := hex.EncodeToString(sum[:])
			if err := embedded.PlantOrphanFile(b, id, []byte("an orphaned body file"), at); err != nil {
				t.Fatal(err)
			}
			return 1, func() int {
				if embedded.BlobFileExists(b, id) {
					return 1
				}
				return 0
			}
		},
		StoredRows: func(t testing.TB, b store.Backend, mailboxID string, uids []mail.UID) int {
			n, err := embedded.RowsOf(b.(*embedded.Backend), mailboxID, uids)
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
		PlantStray: func(t testing.TB, sb store.Backend, mb store.Mailbox) func() int {
			b := sb.(*embedded.Backend)
			if err := embedded.DropRecord(b, mb.UserID, mb.Name); err != nil {
				t.Fatal(err)
			}
			return func() int {
				n, err := embedded.MailboxKeys(b, mb.ID)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		},
	})
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := embedded.Open(dir, embedded.Options{})
	if !errors.Is(err, embedded.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

// TestTextCacheExpires: converted text expires after TextTTL, and
// PurgeText removes what expired, counted in PurgeStats.
func TestTextCacheExpires(t *testing.T) {
	b := withText(t, embedded.Options{NoSync: true, TextTTL: time.Second})
	ctx := context.Background()
	if _, _, ok, _ := b.GetText(ctx, []byte("h1")); !ok {
		t.Fatal("a fresh entry is missing")
	}
	time.Sleep(2100 * time.Millisecond)
	if _, _, ok, _ := b.GetText(ctx, []byte("h1")); ok {
		t.Fatal("an expired entry was served")
	}
	if n, err := b.PurgeText(ctx); n != 1 || err != nil {
		t.Fatalf("PurgeText: %d, %v", n, err)
	}
	if got, want := b.PurgeStats(), (embedded.PurgeStats{Runs: 1, Purged: 1}); got != want {
		t.Fatalf("PurgeStats %+v, want %+v", got, want)
	}
}

// TestTextCachePurgedOnSchedule: expired entries are deleted in the
// background (TextPurgeEvery), without anyone calling PurgeText.
func TestTextCachePurgedOnSchedule(t *testing.T) {
	b := withText(t, embedded.Options{NoSync: true, TextTTL: time.Second, TextPurgeEvery: 100 * time.Millisecond})
	ctx := context.Background()
	time.Sleep(2500 * time.Millisecond) // past the expiry, whole seconds
	if n, err := b.PurgeText(ctx); n != 0 || err != nil {
		t.Fatalf("PurgeText found %d expired entries (%v): the scheduled purge did not run", n, err)
	}
}

// withText opens a store with o and caches one converted text, "h1".
func withText(t *testing.T, o embedded.Options) *embedded.Backend {
	t.Helper()
	b, err := embedded.Open(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.PutText(context.Background(), []byte("h1"), "pdf", "text"); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSyncsCounted: a delivery's commit syncs the write-ahead log, and
// Syncs counts it (quire_store_fsyncs_total; bench/lmtp reports
// deliveries per sync).
func TestSyncsCounted(t *testing.T) {
	ctx := context.Background()
	b := open(t, t.TempDir())
	st := store.New(b, store.Options{})
	u, err := st.CreateUser(ctx, "sync@example.org", "{PLAIN}x")
	if err != nil {
		t.Fatal(err)
	}
	before := b.Syncs()
	sp, err := st.Spool(strings.NewReader("Subject: s\r\n\r\nhi\r\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if errs := st.Deliver(ctx, sp, "a@example.org", []store.User{u}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if n := b.Syncs() - before; n < 1 || n > 4 {
		t.Fatalf("a delivery made %d syncs; want the log's 1 (and at most a few for Pebble's own files)", n)
	}
}
