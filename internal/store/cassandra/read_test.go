package cassandra

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestSnapshotConsistency reads while three hosts (one never
// materializing) change flags: every Messages result must equal the log
// replayed up to the highest MODSEQ it shows, with no change missing.
func TestSnapshotConsistency(t *testing.T) {
	var bs []*Backend
	for i := range 3 {
		b := openTest(t, func(o *Options) { o.BucketSize = 32 })
		b.skipMaterialize = i == 0
		bs = append(bs, b)
	}
	ctx := context.Background()
	mb := newMailbox(t, bs[1])
	s := store.New(bs[1], store.Options{})
	meta := testMeta(1, 100)
	m := store.NewMessage{Blob: meta.Blob, Size: meta.Size, Structure: meta.Structure}
	if _, err := s.Append(ctx, store.User{}, mb, m, m, m, m, m, m, m, m); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := store.New(bs[w], store.Options{})
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				uid := mail.UID((i*3+w)%8 + 1)
				kw := mail.Flags{fmt.Sprintf("k%d", i%5)}
				if _, err := s.StoreFlags(ctx, mb, []mail.UID{uid}, store.FlagsReplace, kw, 0); err != nil {
					t.Error(err)
					return
				}
				if i%4 == 0 {
					if _, err := s.Append(ctx, store.User{}, mb, m); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	// Readers: the three hosts, and one that widens the windows between
	// the reads of Messages.
	slow := openTest(t, nil)
	slow.pause = func() { time.Sleep(20 * time.Millisecond) }
	readers := append(bs, slow, slow, slow)
	deadline := time.Now().Add(8 * time.Second)
	reads := 0
	for time.Now().Before(deadline) && !t.Failed() {
		b := readers[reads%len(readers)]
		reads++
		var rows []store.MessageRow
		if err := b.Messages(ctx, mb.ID, 1, 0, func(r store.MessageRow) error { rows = append(rows, r); return nil }); err != nil {
			t.Fatal(err)
		}
		var top mail.ModSeq
		for _, r := range rows {
			top = max(top, r.ModSeq)
		}
		_, cs := collect(t, b, mb.ID)
		want := replay(cs, top)
		if len(want) != len(rows) {
			t.Fatalf("read %d: %d rows, the log up to %d has %d", reads, len(rows), top, len(want))
		}
		for _, r := range rows {
			if w := want[r.UID]; w.ModSeq != r.ModSeq || !w.Flags.Equal(r.Flags) {
				t.Fatalf("read %d: UID %d at %d %v, the log up to %d says %d %v", reads, r.UID, r.ModSeq, r.Flags, top, w.ModSeq, w.Flags)
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d consistent snapshots", reads)
	check(t, bs[2], mb.ID)
}

// TestLargeMeta commits metadata too large to inline: a 100 KiB structure,
// and 64 appends whose total exceeds the inline budget. Both are spilled to
// metaspill before the LWT and read back, materialized or not.
func TestLargeMeta(t *testing.T) {
	ctx := context.Background()
	for _, lazy := range []bool{false, true} {
		b := openTest(t, nil)
		b.skipMaterialize = lazy
		mb := newMailbox(t, b)
		h, _ := b.Head(ctx, mb.ID)
		next := h
		next.ModSeq++
		var cs []store.Change
		for i := range maxChanges {
			size := 4000
			if i == 3 {
				size = 100 << 10
			}
			uid := next.UIDNext
			cs = append(cs, store.Change{ModSeq: next.ModSeq, UID: uid, Kind: store.ChangeAppend, Flags: mail.Flags{}, Meta: testMeta(uid, size)})
			next.UIDNext++
			next.Messages++
			next.Unseen++
		}
		es, err := b.entries(ctx, mb.ID, cs)
		if err != nil {
			t.Fatal(err)
		}
		spilled := 0
		for _, e := range es {
			if e.metaID != nil {
				spilled++
			}
		}
		if spilled < 10 || es[3].metaID == nil || es[0].metaID != nil {
			t.Fatalf("%d of %d spilled (entry 3: %v)", spilled, len(es), es[3].metaID != nil)
		}
		if err := b.Commit(ctx, mb.ID, h, next, cs); err != nil {
			t.Fatal(err)
		}
		for _, reader := range []*Backend{b, openTest(t, nil)} {
			rows, got := collect(t, reader, mb.ID)
			if len(rows) != maxChanges || len(got) != maxChanges {
				t.Fatalf("lazy=%v: %d rows, %d changes", lazy, len(rows), len(got))
			}
			for i := range rows {
				want := cs[i].Meta
				if rows[i].Meta.EmailID != want.EmailID || len(rows[i].Meta.Structure) != len(want.Structure) ||
					got[i].Meta.EmailID != want.EmailID || len(got[i].Meta.Structure) != len(want.Structure) {
					t.Fatalf("lazy=%v: UID %d metadata differs", lazy, rows[i].UID)
				}
			}
		}
	}
}
