package cassandra

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestTrimLogPartitions: a trim drops the log buckets below the mark's
// bucket, with the spilled metadata of their entries and their mbbuckets
// rows, and keeps the rest; a trim stopped after it recorded the floor (a
// crash before its deletions) leaves Changes failing below the floor,
// never short, and the next TrimLog finishes the deletions.
func TestTrimLogPartitions(t *testing.T) {
	b := openPrivate(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(ctx, "trim@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// 100 appends fill buckets 0 to 2 (32 rows each) and open 3; the
	// eighth message's metadata is spilled.
	for i := range 100 {
		sp, err := s.Spool(strings.NewReader("Subject: m"+strings.Repeat("x", i)+"\r\n\r\nbody\r\n"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutBody(ctx, sp); err != nil {
			t.Fatal(err)
		}
		m := store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure}
		sp.Close()
		if i == 7 {
			m.ReturnPath = strings.Repeat("r", 20<<10) + "@example.test"
		}
		if _, err := s.Append(ctx, u, mb, m); err != nil {
			t.Fatal(err)
		}
	}
	var spills [][]byte
	_ = b.readLog(ctx, mb.ID, 0, 0, 0, func(e entry) error {
		if e.metaID != nil {
			spills = append(spills, e.metaID)
		}
		return nil
	})
	if len(spills) != 1 {
		t.Fatalf("%d spilled metadata rows in bucket 0, want 1", len(spills))
	}
	buckets := func() []int {
		var out []int
		for bk := range 4 {
			out = append(out, partitionRows(t, b, "mblog", "mailbox_id = ? AND bucket = ?", mb.ID, bk))
		}
		return out
	}
	if got := buckets(); got[0] == 0 || got[1] == 0 || got[2] == 0 || got[3] == 0 {
		t.Fatalf("rows per log bucket before the trim: %v", got)
	}
	all := changes(t, s, mb, 0)

	// A trim to a MODSEQ inside bucket 2 drops buckets 0 and 1: first
	// the floor (as a trim stopped right after it would leave)...
	var first2 int64
	if err := b.meta.Query("SELECT first_modseq FROM "+b.opts.Meta.Name+".mbbuckets WHERE mailbox_id = ? AND bucket = ? ALLOW FILTERING",
		mb.ID, int64(2)).Scan(&first2); err != nil {
		t.Fatal(err)
	}
	if err := b.execDurable(ctx, b.meta, "test", b.q.trimFloor, first2-1, int64(2), mb.ID); err != nil {
		t.Fatal(err)
	}
	floor := mail.ModSeq(first2 - 1)
	err = s.Changes(ctx, mb, 0, func(store.Change) error { return nil })
	var te *store.LogTrimmedError
	if !errors.As(err, &te) || te.Floor != floor {
		t.Fatalf("Changes(0) with the floor recorded, nothing deleted yet: %v, want the floor %d", err, floor)
	}
	// A dry run counts what the next TrimLog drops, and drops nothing.
	dry, err := b.TrimLog(ctx, mb.ID, store.TrimRequest{Upto: floor, Next: store.LogMark{ModSeq: 200, At: time.Now()}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := buckets(); got[0] == 0 || got[1] == 0 {
		t.Fatalf("rows per log bucket after a dry run: %v", got)
	}
	// ...then the next TrimLog, with nothing new to trim, finishes.
	n, err := b.TrimLog(ctx, mb.ID, store.TrimRequest{Upto: floor, Next: store.LogMark{ModSeq: 200, At: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	if got := buckets(); got[0] != 0 || got[1] != 0 || got[2] == 0 || got[3] == 0 {
		t.Fatalf("rows per log bucket after the trim: %v, want buckets 0 and 1 dropped", got)
	}
	if n.Entries != 64 || n.Buckets != 2 {
		t.Fatalf("TrimLog dropped %+v, want the 64 entries of buckets 0 and 1", n)
	}
	if dry != n {
		t.Fatalf("the dry run counted %+v, the trim dropped %+v", dry, n)
	}
	if got := partitionRows(t, b, "metaspill", "mailbox_id = ? AND meta_id = ?", mb.ID, spills[0]); got != 0 {
		t.Fatal("the spilled metadata of a dropped bucket stays")
	}
	if got := partitionRows(t, b, "mbbuckets", "mailbox_id = ?", mb.ID); got != 2 {
		t.Fatalf("%d mbbuckets rows after the trim, want 2 (buckets 2 and 3)", got)
	}
	var kept []store.Change
	for _, c := range all {
		if c.ModSeq > floor {
			kept = append(kept, c)
		}
	}
	if got := changes(t, s, mb, floor); len(got) != len(kept) || got[0].ModSeq != kept[0].ModSeq || got[len(got)-1].ModSeq != kept[len(kept)-1].ModSeq {
		t.Fatalf("Changes(%d) after the trim: %d changes, want %d", floor, len(got), len(kept))
	}
	if st, err := b.LogTrim(ctx, mb.ID); err != nil || st.Floor != floor || st.Mark.ModSeq != 200 {
		t.Fatalf("trim state %+v (%v)", st, err)
	}
	// The messages, whose rows need no log, all read, the spilled
	// metadata's included (from msgmeta).
	n2 := 0
	if err := s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		n2++
		if r.UID == 8 && !strings.HasPrefix(r.Meta.ReturnPath, "rrrr") {
			t.Errorf("UID 8's metadata after the trim: return path %.10q", r.Meta.ReturnPath)
		}
		return nil
	}); err != nil || n2 != 100 {
		t.Fatalf("Messages after the trim: %d (%v), want 100", n2, err)
	}
}

func changes(t *testing.T, s *store.Store, mb store.Mailbox, since mail.ModSeq) []store.Change {
	t.Helper()
	var out []store.Change
	if err := s.Changes(context.Background(), mb, since, func(c store.Change) error { out = append(out, c); return nil }); err != nil {
		t.Fatalf("Changes(%d): %v", since, err)
	}
	return out
}

// TestLostRaceSpills: two hosts append messages whose metadata is
// spilled to one mailbox at once, so that commits lose their LWT and
// retry under a new UID: each loss leaves a metaspill row no log entry
// refers to. A purge older than the grace by its clock removes exactly
// those, and every message, its metadata read through the log, is whole.
func TestLostRaceSpills(t *testing.T) {
	b1 := openPrivate(t)
	b2 := openTest(t, func(o *Options) {
		o.BucketSize, o.PurgeSlices = 32, 16
		o.Meta.Name, o.Msg.Name, o.Cache.Name = b1.opts.Meta.Name, b1.opts.Msg.Name, b1.opts.Cache.Name
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s1, s2 := store.New(b1, store.Options{}), store.New(b2, store.Options{})
	u, err := s1.CreateUser(ctx, "racer@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	mb, err := s1.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	const each = 15
	errs := make(chan error, 2)
	for w, s := range []*store.Store{s1, s2} {
		go func() {
			for i := range each {
				sp, err := s.Spool(strings.NewReader(fmt.Sprintf("Subject: w%d m%d\r\n\r\nbody\r\n", w, i)), 0)
				if err != nil {
					errs <- err
					return
				}
				err = s.PutBody(ctx, sp)
				m := store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure,
					ReturnPath: strings.Repeat("r", 20<<10) + "@example.test"} // spilled: over 16 KiB
				sp.Close()
				if err == nil {
					_, err = s.Append(ctx, u, mb, m)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	spillRows := func() int {
		n := 0
		iter := b1.meta.Query("SELECT mailbox_id FROM " + b1.opts.Meta.Name + ".metaspill").Iter()
		var id string
		for iter.Scan(&id) {
			if id == mb.ID {
				n++
			}
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := spillRows()
	if before <= 2*each {
		t.Skipf("%d spilled rows for %d messages: no commit lost its race this run", before, 2*each)
	}
	later := store.New(b1, store.Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
	st, err := later.Purge(ctx, store.PurgeOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got := spillRows(); got != 2*each || st.Orphans.Spills != int64(before-2*each) {
		t.Fatalf("%d spilled rows before the purge, %d after (%d reported removed), want %d: one per message", before, got, st.Orphans.Spills, 2*each)
	}
	t.Logf("%d commits lost their race and left a spilled row; the purge removed them", before-2*each)
	n := 0
	if err := s1.Changes(ctx, mb, 0, func(c store.Change) error {
		if c.Kind == store.ChangeAppend && (c.Meta == nil || !strings.HasPrefix(c.Meta.ReturnPath, "rrrr")) {
			return fmt.Errorf("UID %d: metadata %+v", c.UID, c.Meta)
		}
		n++
		return nil
	}); err != nil || n != 2*each {
		t.Fatalf("the log after the purge: %d appends (%v), want %d", n, err, 2*each)
	}
}
