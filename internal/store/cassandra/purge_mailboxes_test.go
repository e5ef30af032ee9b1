package cassandra

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// partitionRows counts the rows of one partition (or row) of a table.
func partitionRows(t *testing.T, b *Backend, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := b.meta.Query("SELECT count(*) FROM "+b.opts.Meta.Name+"."+table+" WHERE "+where, args...).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// mailboxRows counts every row keyed by a mailbox: log buckets 0..1,
// states and metadata, spilled metadata, the bucket index and hint.
func mailboxRows(t *testing.T, b *Backend, id string, spills [][]byte) map[string]int {
	t.Helper()
	out := map[string]int{
		"mblog":     partitionRows(t, b, "mblog", "mailbox_id = ? AND bucket IN (0, 1, 2)", id),
		"msgs":      partitionRows(t, b, "msgs", "mailbox_id = ? AND ubucket = 0", id),
		"msgmeta":   partitionRows(t, b, "msgmeta", "mailbox_id = ? AND ubucket = 0", id),
		"mbcur":     partitionRows(t, b, "mbcur", "mailbox_id = ?", id),
		"mbbuckets": partitionRows(t, b, "mbbuckets", "mailbox_id = ?", id),
		"gone":      partitionRows(t, b, "gone_mailboxes", "shard = ? AND mailbox_id = ?", ledgerShard(id)%goneShards, id),
	}
	for _, s := range spills {
		out["metaspill"] += partitionRows(t, b, "metaspill", "mailbox_id = ? AND meta_id = ?", id, s)
	}
	return out
}

// TestPurgeDeletedMailboxRows: the purge drops every partition of a
// deleted mailbox (log buckets, states, metadata, spilled metadata, the
// bucket index and hint, its gone_mailboxes row) and of a deleted user's
// mailboxes, after the grace and not before, and leaves the mailboxes
// that live alone.
func TestPurgeDeletedMailboxRows(t *testing.T) {
	b := openPrivate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(ctx, "doomed@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.CreateMailbox(ctx, u, "Doomed", "")
	if err != nil {
		t.Fatal(err)
	}
	put := func(text string) store.NewMessage {
		sp, err := s.Spool(strings.NewReader("Subject: "+text+"\r\n\r\n"+text+"\r\n"), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		if err := s.PutBody(ctx, sp); err != nil {
			t.Fatal(err)
		}
		return store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure}
	}
	// 40 commits roll the 32-row log bucket; one message's metadata is
	// too large to ride in the log and is spilled.
	for i := range 40 {
		m := put("m" + strings.Repeat("x", i))
		if i == 7 {
			m.ReturnPath = strings.Repeat("r", 20<<10) + "@example.test"
		}
		if _, err := s.Append(ctx, u, mb, m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Expunge(ctx, mb, []mail.UID{3, 4}); err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, u, inbox, put("stays")); err != nil {
		t.Fatal(err)
	}
	var spills [][]byte
	for bk := range int64(3) {
		_ = b.readLog(ctx, mb.ID, bk, 0, 0, func(e entry) error {
			if e.metaID != nil {
				spills = append(spills, e.metaID)
			}
			return nil
		})
	}
	if len(spills) != 1 {
		t.Fatalf("%d spilled metadata rows, want 1", len(spills))
	}
	time.Sleep(200 * time.Millisecond) // materialization runs after the commits return
	if err := s.DeleteMailbox(ctx, mb); err != nil {
		t.Fatal(err)
	}
	before := mailboxRows(t, b, mb.ID, spills)
	for k, n := range before {
		if n == 0 {
			t.Fatalf("no %s rows before the purge: %v", k, before)
		}
	}
	if st, err := s.Purge(ctx, store.PurgeOptions{Grace: time.Hour}); err != nil || st.DeletedMailboxes != 0 {
		t.Fatalf("a purge within the grace: %+v, %v: want no mailbox dropped", st, err)
	}
	if got := mailboxRows(t, b, mb.ID, spills); got["mblog"] != before["mblog"] {
		t.Fatalf("rows dropped within the grace: %v", got)
	}
	st, err := s.Purge(ctx, store.PurgeOptions{})
	if err != nil || st.DeletedMailboxes != 1 {
		t.Fatalf("purge: %+v, %v: want 1 mailbox dropped", st, err)
	}
	for k, n := range mailboxRows(t, b, mb.ID, spills) {
		if n != 0 {
			t.Fatalf("%d %s rows left after the purge", n, k)
		}
	}
	var left int
	if err := s.Messages(ctx, inbox, 1, 0, func(r store.MessageRow) error {
		body, err := s.OpenBody(ctx, r.Meta)
		if err == nil {
			body.Close()
			left++
		}
		return err
	}); err != nil || left != 1 {
		t.Fatalf("INBOX after the purge: %d messages, %v", left, err)
	}
	// A deleted user's six mailboxes.
	mbs, err := b.ListMailboxes(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Purge(ctx, store.PurgeOptions{}); err != nil || st.DeletedMailboxes != int64(len(mbs)) {
		t.Fatalf("purge after the user's deletion: %+v, %v: want %d mailboxes dropped", st, err, len(mbs))
	}
	for _, m := range mbs {
		if n := partitionRows(t, b, "mblog", "mailbox_id = ? AND bucket = 0", m.ID); n != 0 {
			t.Fatalf("%s of the deleted user: %d log rows left", m.Name, n)
		}
	}
}

// TestPurgeLease: one holder at a time; the holder renews; another takes
// the lease once it expired.
func TestPurgeLease(t *testing.T) {
	a := openPrivate(t)
	b := openTest(t, func(o *Options) { o.Meta, o.Msg, o.Cache = a.opts.Meta, a.opts.Msg, a.opts.Cache })
	ctx := context.Background()
	take := func(be *Backend, holder string, want bool) {
		t.Helper()
		got, err := be.LeasePurge(ctx, holder, 2*time.Second)
		if err != nil || got != want {
			t.Fatalf("LeasePurge(%s) = %v, %v; want %v", holder, got, err, want)
		}
	}
	take(a, "A", true)
	take(b, "B", false)
	take(a, "A", true) // renewed
	time.Sleep(3 * time.Second)
	take(b, "B", true) // A's lease expired
	take(a, "A", false)
}

// TestDuplicateCreateLeavesNoHead: creating a mailbox under a name another
// mailbox has writes a head first and then fails on the record; the head
// is dropped at once, so the purge finds no stray, and the existing
// mailbox is untouched.
func TestDuplicateCreateLeavesNoHead(t *testing.T) {
	b := openPrivate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(ctx, "dup@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.CreateMailbox(ctx, u, "Dup", "")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.CreateMailbox(ctx, u, "Dup", ""); !errors.Is(err, mail.ErrMailboxExists) {
			t.Fatalf("CreateMailbox of an existing name: %v, want mail.ErrMailboxExists", err)
		}
	}
	mbs, err := s.Mailboxes(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, mb := range mbs {
		listed[mb.ID] = true
	}
	n, err := b.PurgeStrays(ctx, time.Now().Add(time.Hour), func(id string) bool { return listed[id] }, true)
	if err != nil || n != 0 {
		t.Fatalf("PurgeStrays after 3 creations of an existing name: %d strays (%v), want none", n, err)
	}
	if got, err := s.Mailbox(ctx, u, "Dup"); err != nil || got.ID != first.ID {
		t.Fatalf("Mailbox(Dup): %+v, %v; want the first one", got, err)
	}
	if _, err := s.Status(ctx, first); err != nil {
		t.Fatalf("Status of the first Dup: %v", err)
	}
}
