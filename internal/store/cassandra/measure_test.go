//go:build quirefaults

package cassandra

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestMeasure prints latencies and throughput on the test node. It runs
// only with QUIRE_CASSANDRA_MEASURE=1 and -tags quirefaults.
func TestMeasure(t *testing.T) {
	if os.Getenv("QUIRE_CASSANDRA_MEASURE") != "1" {
		t.Skip("set QUIRE_CASSANDRA_MEASURE=1 to measure")
	}
	b := openTest(t, nil)
	ctx := context.Background()
	mb := newMailbox(t, b)
	for range 20 { // warm up: prepare statements, fill caches
		if _, err := appendOne(ctx, b, mb.ID); err != nil {
			t.Fatal(err)
		}
	}

	const n = 400
	var commit, whole []time.Duration
	for range n {
		t0 := time.Now()
		h, err := b.Head(ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		next := h
		next.ModSeq, next.UIDNext, next.Messages, next.Unseen = h.ModSeq+1, h.UIDNext+1, h.Messages+1, h.Unseen+1
		c := store.Change{ModSeq: next.ModSeq, UID: h.UIDNext, Kind: store.ChangeAppend, Flags: mail.Flags{}, Meta: testMeta(h.UIDNext, 1500)}
		t1 := time.Now()
		if err := b.Commit(ctx, mb.ID, h, next, []store.Change{c}); err != nil {
			t.Fatal(err)
		}
		commit = append(commit, time.Since(t1))
		whole = append(whole, time.Since(t0))
	}
	t.Logf("append Commit (LWT + materialize), 1 writer: %s", pct(commit))
	t.Logf("append Head+Commit, 1 writer:                %s", pct(whole))

	b.SetFaults(Faults{Inject: neverMaterialize})
	var lwt []time.Duration
	for range 200 {
		h, _ := b.Head(ctx, mb.ID)
		next := h
		next.ModSeq, next.UIDNext, next.Messages = h.ModSeq+1, h.UIDNext+1, h.Messages+1
		c := store.Change{ModSeq: next.ModSeq, UID: h.UIDNext, Kind: store.ChangeAppend, Meta: testMeta(h.UIDNext, 1500)}
		t1 := time.Now()
		if err := b.Commit(ctx, mb.ID, h, next, []store.Change{c}); err != nil {
			t.Fatal(err)
		}
		lwt = append(lwt, time.Since(t1))
	}
	b.SetFaults(Faults{})
	t.Logf("append Commit, LWT only:                     %s", pct(lwt))
	churn(t, store.New(b, store.Options{}), mb, 10) // materialize what was skipped (roll or catch-up)

	// Head reads the current bucket's static columns at the read level;
	// the same read at SERIAL is what it would cost otherwise.
	bk, _ := b.heads.bucket(mb.ID)
	for _, serial := range []bool{false, true} {
		c := b.read.primary
		if serial {
			c = b.serial
		}
		var ds []time.Duration
		for range 300 {
			t0 := time.Now()
			if _, _, err := b.readBucket(ctx, c, mb.ID, bk); err != nil {
				t.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
		}
		t.Logf("Head, serial=%-5v:                          %s", serial, pct(ds))
	}
	var ms []time.Duration
	for i := range 300 {
		uid := mail.UID(i%600 + 1)
		t0 := time.Now()
		if err := b.Messages(ctx, mb.ID, uid, uid, func(store.MessageRow) error { return nil }); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, time.Since(t0))
	}
	t.Logf("Messages(uid, uid), 640-message mailbox:     %s", pct(ms))
	var all []time.Duration
	for range 20 {
		t0 := time.Now()
		if err := b.Messages(ctx, mb.ID, 1, 0, func(store.MessageRow) error { return nil }); err != nil {
			t.Fatal(err)
		}
		all = append(all, time.Since(t0))
	}
	t.Logf("Messages(1:*), 640 messages:                 %s", pct(all))

	for _, g := range []int{4, 16} {
		for _, shared := range []bool{true, false} {
			rate, conflicts := throughput(t, g, shared, 8*time.Second)
			what := "one mailbox"
			if !shared {
				what = "a mailbox each"
			}
			t.Logf("%2d goroutines, %-14s: %6.0f appends/s (Store.Append, %d conflicts retried)", g, what, rate, conflicts)
		}
	}
}

// throughput appends through store.Store from g goroutines, on two hosts,
// for d, and returns appends per second.
func throughput(t *testing.T, g int, shared bool, d time.Duration) (float64, int64) {
	hosts := []*Backend{openTest(t, nil), openTest(t, nil)}
	ctx := context.Background()
	one := newMailbox(t, hosts[0])
	meta := testMeta(1, 1500)
	m := store.NewMessage{Blob: meta.Blob, Size: meta.Size, Structure: meta.Structure}
	var done, conflicts atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	for i := range g {
		b := hosts[i%2]
		mb := one
		if !shared {
			mb = newMailbox(t, b)
		}
		s := store.New(counting{b, &conflicts}, store.Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if _, err := s.Append(ctx, store.User{}, mb, m); err != nil {
					t.Error(err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds(), conflicts.Load()
}

// counting counts the Commits that conflict.
type counting struct {
	*Backend
	n *atomic.Int64
}

func (c counting) Commit(ctx context.Context, mb string, prev, next store.Head, cs []store.Change) error {
	err := c.Backend.Commit(ctx, mb, prev, next, cs)
	if err == mail.ErrConflict {
		c.n.Add(1)
	}
	return err
}

func pct(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	p := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(10 * time.Microsecond)
	}
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  n=%d", p(0.5), p(0.9), p(0.99), len(s))
}
