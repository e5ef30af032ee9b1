package cassandra

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

func TestCommitConflict(t *testing.T) {
	b := openTest(t, nil)
	ctx := context.Background()
	mb := newMailbox(t, b)
	h, err := b.Head(ctx, mb.ID)
	if err != nil || h != store.EmptyHead() {
		t.Fatalf("new head %+v %v", h, err)
	}
	next := h
	next.ModSeq, next.UIDNext, next.Messages, next.Unseen = 2, 2, 1, 1
	c := store.Change{ModSeq: 2, UID: 1, Kind: store.ChangeAppend, Meta: testMeta(1, 10)}
	if err := b.Commit(ctx, mb.ID, h, next, []store.Change{c}); err != nil {
		t.Fatal(err)
	}
	// A second commit on the same (now stale) head conflicts and applies
	// nothing, also from another host with a cold cache.
	other := openTest(t, nil)
	for _, x := range []*Backend{b, other} {
		rival := next
		rival.Messages = 42
		if err := x.Commit(ctx, mb.ID, h, rival, []store.Change{c}); !errors.Is(err, mail.ErrConflict) {
			t.Fatalf("stale commit: %v, want ErrConflict", err)
		}
	}
	if got, _ := other.Head(ctx, mb.ID); got != next {
		t.Fatalf("head %+v, want %+v", got, next)
	}
	rows, cs := collect(t, other, mb.ID)
	if len(rows) != 1 || len(cs) != 1 || rows[0].Meta.EmailID != c.Meta.EmailID {
		t.Fatalf("rows %+v changes %+v", rows, cs)
	}
	if _, err := b.Head(ctx, randID()); !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("Head of unknown mailbox: %v", err)
	}
}

// TestConcurrentHosts appends from many goroutines on three hosts to one
// mailbox: UIDs and MODSEQs come out gapless and counts exact.
func TestConcurrentHosts(t *testing.T) {
	const hosts, perHost, each = 3, 4, 20
	var bs []*Backend
	for range hosts {
		bs = append(bs, openTest(t, func(o *Options) { o.BucketSize = 64 }))
	}
	ctx := context.Background()
	mb := newMailbox(t, bs[0])
	meta := testMeta(1, 300)
	var wg sync.WaitGroup
	errs := make(chan error, hosts*perHost)
	for i := range hosts * perHost {
		s := store.New(bs[i%hosts], store.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				_, err := s.Append(ctx, store.User{}, mb, store.NewMessage{Blob: meta.Blob, Size: meta.Size, Structure: meta.Structure})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	const n = hosts * perHost * each
	for i, b := range bs {
		h, err := b.Head(ctx, mb.ID)
		if err != nil || h.Messages != n || h.UIDNext != n+1 || h.ModSeq != n+1 || h.Unseen != n || h.Size != n*meta.Size {
			t.Fatalf("host %d: head %+v %v after %d appends", i, h, err, n)
		}
		rows, cs := collect(t, b, mb.ID)
		if len(rows) != n || len(cs) != n {
			t.Fatalf("host %d: %d rows, %d changes, want %d", i, len(rows), len(cs), n)
		}
		for j, c := range cs {
			if c.UID != mail.UID(j+1) || c.ModSeq != mail.ModSeq(j+2) || c.Kind != store.ChangeAppend || c.Meta == nil {
				t.Fatalf("host %d: change %d is %+v: log not gapless", i, j, c)
			}
			if rows[j].UID != c.UID || rows[j].ModSeq != c.ModSeq {
				t.Fatalf("host %d: row %d is %d/%d", i, j, rows[j].UID, rows[j].ModSeq)
			}
		}
	}
}

// churn makes n commits through s: appends, with flag changes and
// expunges mixed in.
func churn(t *testing.T, s *store.Store, mb store.Mailbox, n int) {
	t.Helper()
	ctx := context.Background()
	meta := testMeta(1, 500)
	m := store.NewMessage{Blob: meta.Blob, Size: meta.Size, Structure: meta.Structure}
	commits := 0
	for commits < n {
		uids, err := s.Append(ctx, store.User{}, mb, m, m)
		if err != nil {
			t.Fatal(err)
		}
		commits++
		if commits%3 == 0 {
			if _, err := s.StoreFlags(ctx, mb, uids[:1], store.FlagsAdd, mail.Flags{`\Seen`, "$K"}, 0); err != nil {
				t.Fatal(err)
			}
			commits++
		}
		if commits%7 == 0 {
			if _, err := s.Expunge(ctx, mb, uids[1:]); err != nil {
				t.Fatal(err)
			}
			commits++
		}
	}
}

// check compares Messages and Head with a replay of the whole change log,
// and Changes(since) with the log's suffix for every since.
func check(t *testing.T, b *Backend, mb string) {
	t.Helper()
	ctx := context.Background()
	rows, cs := collect(t, b, mb)
	h, err := b.Head(ctx, mb)
	if err != nil {
		t.Fatal(err)
	}
	want := replay(cs, 0)
	if len(rows) != len(want) || int64(len(rows)) != h.Messages {
		t.Fatalf("%d rows, log replays to %d, head says %d", len(rows), len(want), h.Messages)
	}
	var unseen int64
	for _, r := range rows {
		w, ok := want[r.UID]
		if !ok || w.ModSeq != r.ModSeq || !w.Flags.Equal(r.Flags) || w.Meta.EmailID != r.Meta.EmailID {
			t.Fatalf("row %d: %d %v, log says %d %v", r.UID, r.ModSeq, r.Flags, w.ModSeq, w.Flags)
		}
		if !r.Flags.Has(mail.FlagSeen) {
			unseen++
		}
	}
	if unseen != h.Unseen || cs[len(cs)-1].ModSeq != h.ModSeq {
		t.Fatalf("head %+v: unseen %d, last change %d", h, unseen, cs[len(cs)-1].ModSeq)
	}
	for i := 0; i < len(cs); i += 7 {
		since := cs[i].ModSeq
		var got []store.Change
		if err := b.Changes(ctx, mb, since, func(c store.Change) error { got = append(got, c); return nil }); err != nil {
			t.Fatal(err)
		}
		j := i
		for j < len(cs) && cs[j].ModSeq <= since {
			j++
		}
		if len(got) != len(cs)-j || (len(got) > 0 && (got[0].ModSeq != cs[j].ModSeq || got[0].UID != cs[j].UID)) {
			t.Fatalf("Changes(%d): %d changes, want %d", since, len(got), len(cs)-j)
		}
	}
}

func TestBucketRoll(t *testing.T) {
	b := openTest(t, func(o *Options) { o.BucketSize = 64 })
	mb := newMailbox(t, b)
	churn(t, store.New(b, store.Options{}), mb, 300)
	b.bg.Wait() // materialization runs after each commit returns
	st, err := b.current(context.Background(), mb.ID)
	if err != nil || st.bucket < 4 {
		t.Fatalf("current bucket %d %v: 300+ commits of up to 2 rows should fill 5 buckets of 64", st.bucket, err)
	}
	if st.mat != int64(st.head.ModSeq) {
		t.Fatalf("watermark %d, head %d: a host that materializes keeps it at the head", st.mat, st.head.ModSeq)
	}
	check(t, b, mb.ID)
	check(t, openTest(t, nil), mb.ID) // a host with a cold cache and other options
}

func TestDeletedMailbox(t *testing.T) {
	b := openTest(t, nil)
	ctx := context.Background()
	mb := newMailbox(t, b)
	if _, err := appendOne(ctx, b, mb.ID); err != nil {
		t.Fatal(err)
	}
	h, _ := b.Head(ctx, mb.ID)
	if err := b.DeleteMailbox(ctx, mb); err != nil {
		t.Fatal(err)
	}
	next := h
	next.ModSeq++
	err := b.Commit(ctx, mb.ID, h, next, []store.Change{{ModSeq: next.ModSeq, UID: 1, Kind: store.ChangeExpunge}})
	if !errors.Is(err, mail.ErrConflict) && !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("commit to a deleted mailbox: %v", err)
	}
	if _, err := b.Head(ctx, mb.ID); !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("Head of a deleted mailbox: %v", err)
	}
	if err := b.DeleteMailbox(ctx, mb); !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("second delete: %v", err)
	}
}
