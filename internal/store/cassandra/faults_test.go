//go:build quirefaults

package cassandra

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/testkit"
)

// The tests of this file need the fault switches (go test -tags
// quirefaults; scripts/test.sh runs them as TestFault*).

// TestFaultUncertainCommit makes Commit's LWT "time out" after it ran, and
// before it ran: Commit settles both by reading at serial consistency.
func TestFaultUncertainCommit(t *testing.T) {
	b := openTest(t, nil)
	ctx := context.Background()
	mb := newMailbox(t, b)
	// Landed, reply lost: once as a write timeout, once as "unavailable"
	// at the commit level (LostReply alternates them).
	for range 2 {
		b.SetFaults(Faults{Inject: onCommit(LostReply)})
		if _, err := appendOne(ctx, b, mb.ID); err != nil {
			t.Fatalf("landed commit: %v, want nil", err)
		}
	}
	// Never ran: settled as not landed (a conflict: safe to retry), or
	// refused before Paxos began (unavailable).
	for f, want := range map[Fault]error{NoResponse: mail.ErrConflict, Unavailable: mail.ErrUnavailable} {
		b.SetFaults(Faults{Inject: onCommit(f)})
		if _, err := appendOne(ctx, b, mb.ID); !errors.Is(err, want) {
			t.Fatalf("commit that never ran (%s): %v, want %v", f, err, want)
		}
	}
	// A rival landed the same (MODSEQ, UID) while ours timed out: the
	// commit id tells them apart.
	rival := openTest(t, nil)
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if !s.Commit() {
			return Pass
		}
		if _, err := appendOne(ctx, rival, mb.ID); err != nil {
			t.Errorf("rival: %v", err)
		}
		return NoResponse
	}})
	if _, err := appendOne(ctx, b, mb.ID); !errors.Is(err, mail.ErrConflict) {
		t.Fatalf("commit beaten by a rival: %v, want ErrConflict", err)
	}
	b.SetFaults(Faults{})
	h, _ := b.Head(ctx, mb.ID)
	rows, cs := collect(t, b, mb.ID)
	if h.Messages != 3 || len(rows) != 3 || len(cs) != 3 {
		t.Fatalf("head %+v, %d rows, %d changes; want 3 of each", h, len(rows), len(cs))
	}
}

// TestFaultCASTimeoutKeepsLevel: a commit whose Paxos round times out
// (the reply lost, as when a node rejoins: "received 2 of 3 required
// responses") is settled, and the write class stays at its primary level:
// a timeout is an unknown outcome, not a lack of replicas.
func TestFaultCASTimeoutKeepsLevel(t *testing.T) {
	var logs testkit.SyncBuffer
	b := openTest(t, func(o *Options) {
		o.WriteFallback = "LOCAL_ONE"
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	ctx := context.Background()
	mb := newMailbox(t, b)
	// LostReply reports a CAS write timeout on odd statements (an
	// "unavailable" after Paxos accepted on even ones): an even commit is
	// made a commit that never ran, which settles as not landed (a
	// conflict), and the test appends again.
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		switch {
		case !s.Commit():
			return Pass
		case s.N%2 == 1:
			return LostReply
		}
		return NoResponse
	}})
	err := mail.ErrConflict
	for i := 0; i < 4 && errors.Is(err, mail.ErrConflict); i++ {
		_, err = appendOne(ctx, b, mb.ID)
	}
	if err != nil {
		t.Fatalf("commit whose reply was lost: %v, want settled as landed", err)
	}
	b.SetFaults(Faults{})
	if b.write.degraded() || strings.Contains(logs.String(), "switching to fallback") {
		t.Fatalf("a CAS timeout switched the write class to its fallback: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "landed=true") {
		t.Fatalf("the commit was not settled: %s", logs.String())
	}
}

// TestFaultExpungedFlagsUnmaterialized: a flag change committed by a host
// that never materializes it (like one whose materialization failed), then
// an expunge that another host materializes at once: the expunged row
// carries the expunge's MODSEQ over the older flags. Expunged (the data a
// FETCH returns for a message another session expunged) must still give
// the flags of the log. The checker's partition scenario found it: a
// QRESYNC said (\Deleted), a FETCH of the same view ().
func TestFaultExpungedFlagsUnmaterialized(t *testing.T) {
	ctx := context.Background()
	// Ten appends, materialized and under a stored watermark: the log tail
	// that readers replay no longer holds the first one's append.
	first := openTest(t, nil)
	mb := newMailbox(t, first)
	var uid mail.UID
	for i := range 10 {
		u, err := appendOne(ctx, first, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			uid = u
		}
	}
	first.Close() // waits for its background materialization
	eager := openTest(t, nil)
	lazy := openTest(t, nil)
	// A host that never materializes: its background writes are lost.
	lazy.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.Background {
			return NoResponse
		}
		return Pass
	}})
	commit := func(b *Backend, c store.Change, change func(*store.Head)) mail.ModSeq {
		t.Helper()
		for range 10 {
			h, err := b.Head(ctx, mb.ID)
			if err != nil {
				t.Fatal(err)
			}
			next := h
			next.ModSeq++
			change(&next)
			c.ModSeq = next.ModSeq
			if err = b.Commit(ctx, mb.ID, h, next, []store.Change{c}); err == nil {
				return c.ModSeq
			} else if !errors.Is(err, mail.ErrConflict) {
				t.Fatal(err)
			}
		}
		t.Fatal("commit: conflicts")
		return 0
	}
	deleted := mail.NewFlags(mail.FlagDeleted)
	commit(lazy, store.Change{UID: uid, Kind: store.ChangeFlags, Flags: deleted}, func(h *store.Head) { h.Deleted++ })
	gone := commit(eager, store.Change{UID: uid, Kind: store.ChangeExpunge}, func(h *store.Head) { h.Messages--; h.Deleted-- })
	eager.Close() // waits for its background materialization
	var flags []string
	var expunged bool
	if err := lazy.meta.Query(`SELECT flags, expunged FROM `+lazy.opts.Meta.Name+`.msgs WHERE mailbox_id = ? AND ubucket = ? AND uid = ?`,
		mb.ID, ubucket(int64(uid)), int64(uid)).Scan(&flags, &expunged); err != nil || !expunged || len(flags) != 0 {
		t.Fatalf("setup: want the expunge materialized over the append's flags, got flags %v expunged %v (%v)", flags, expunged, err)
	}
	var got []store.MessageRow
	if err := openTest(t, nil).Expunged(ctx, mb.ID, []mail.UID{uid}, func(r store.MessageRow) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Flags.Has(mail.FlagDeleted) || got[0].ModSeq != gone {
		for _, r := range got {
			t.Errorf("Expunged: UID %d flags %v MODSEQ %d", r.UID, r.Flags, r.ModSeq)
		}
		t.Fatalf("want UID %d with \\Deleted at MODSEQ %d (the expunge's)", uid, gone)
	}
}

// TestFaultMaterializationLag commits through a host that never materializes:
// readers overlay the log, and rolls materialize what was left.
func TestFaultMaterializationLag(t *testing.T) {
	lazy := openTest(t, func(o *Options) { o.BucketSize = 64 })
	lazy.SetFaults(Faults{Inject: neverMaterialize})
	mb := newMailbox(t, lazy)
	churn(t, store.New(lazy, store.Options{}), mb, 20) // within bucket 0: nothing materialized
	st, _ := lazy.current(context.Background(), mb.ID)
	if st.bucket != 0 || st.mat != -1 {
		t.Fatalf("bucket %d watermark %d, want 0 and none", st.bucket, st.mat)
	}
	check(t, lazy, mb.ID)
	check(t, openTest(t, nil), mb.ID)
	// Mixed hosts, across rolls.
	eager := openTest(t, func(o *Options) { o.BucketSize = 64 })
	for i := range 6 {
		b := lazy
		if i%2 == 1 {
			b = eager
		}
		churn(t, store.New(b, store.Options{}), mb, 25)
	}
	check(t, lazy, mb.ID)
	check(t, eager, mb.ID)
}

// TestFaultSnapshotConsistency reads while three hosts (one never
// materializing) change flags: every Messages result must equal the log
// replayed up to the highest MODSEQ it shows, with no change missing.
func TestFaultSnapshotConsistency(t *testing.T) {
	var bs []*Backend
	for i := range 3 {
		b := openTest(t, func(o *Options) { o.BucketSize = 32 })
		if i == 0 {
			b.SetFaults(Faults{Inject: neverMaterialize})
		}
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
	// Readers: the three hosts, and one on a slow network while it runs
	// Messages, which widens the windows between the reads of a snapshot
	// (not while it reads the whole log to compare: that grows).
	slow := openTest(t, nil)
	var slowNow atomic.Bool
	slow.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.Read() && slowNow.Load() {
			time.Sleep(20 * time.Millisecond)
		}
		return Pass
	}})
	readers := append(bs, slow, slow, slow)
	deadline := time.Now().Add(8 * time.Second)
	reads := 0
	for time.Now().Before(deadline) && !t.Failed() {
		b := readers[reads%len(readers)]
		reads++
		var rows []store.MessageRow
		slowNow.Store(b == slow)
		err := b.Messages(ctx, mb.ID, 1, 0, func(r store.MessageRow) error { rows = append(rows, r); return nil })
		slowNow.Store(false)
		if err != nil {
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

// TestFaultLargeMetaLazy is TestLargeMeta on a host that never
// materializes: readers find the spilled metadata through the log.
func TestFaultLargeMetaLazy(t *testing.T) {
	b := openTest(t, nil)
	b.SetFaults(Faults{Inject: neverMaterialize})
	largeMeta(t, b, true)
}

// neverMaterialize makes a host that never materializes its commits: the
// writes it makes in the background, after a commit returned, time out
// unsent, as if it crashed after each commit. A roll still materializes
// the bucket it seals, as on any host.
func neverMaterialize(s Statement) Fault {
	if s.Background {
		return NoResponse
	}
	return Pass
}

// onCommit injects f into every Commit's conditional batch.
func onCommit(f Fault) func(Statement) Fault {
	return func(s Statement) Fault {
		if s.Commit() {
			return f
		}
		return Pass
	}
}
