package imapserver

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// fillLarge appends n copies of one small message to the user's INBOX
// and returns the message's size.
func fillLarge(t *testing.T, e *env, n int) int64 {
	t.Helper()
	ctx := context.Background()
	sp, err := e.st.Spool(strings.NewReader(testMsg("large")), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if err := e.st.PutBody(ctx, sp); err != nil {
		t.Fatal(err)
	}
	in, err := e.st.Mailbox(ctx, e.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]store.NewMessage, n)
	for i := range msgs {
		msgs[i] = store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure}
	}
	if _, err := e.st.Append(ctx, e.user, in, msgs...); err != nil {
		t.Fatal(err)
	}
	return sp.Size
}

// heapPeak samples the bytes of heap objects until stop is called and
// returns the highest sample.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// TestFetchLargeMailboxStreams: FETCH 1:* of 20,000 messages answers
// every message while the server's heap grows by a bounded amount, not by
// a row per message (issue 16: 111 MB at 128,000 messages, all rows read
// before the first response line). FLAGS reads the light states; a
// metadata item reads whole rows, a chunk at a time.
func TestFetchLargeMailboxStreams(t *testing.T) {
	const n = 20000
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
	e := newEnv(t, st, hub, nil)
	size := fillLarge(t, e, n)
	c := e.login()
	c.ok("SELECT INBOX")
	// Buffering held a row with its metadata per message: 12-14 MB here
	// (10 MB for SEARCH). Measured now: light states 0.4-0.7 MB (up to
	// 4 MB under -race), a chunk of 1,000 whole rows and the garbage of
	// the chunk before it 2-3.5 MB (4 MB under -race).
	const light, whole = 6 << 20, 8 << 20
	fetchPeak(t, c, "(UID FLAGS)", `* 1 FETCH (UID 1 FLAGS (\Recent))`, n, light)
	fetchPeak(t, c, "(UID RFC822.SIZE)", fmt.Sprintf("* 1 FETCH (UID 1 RFC822.SIZE %d)", size), n, whole)
	searchPeak(t, c, n, light)
}

// heapGrowth runs cmd and fails if the heap grew by more than bound
// while it ran. A collection at every 5% of growth makes the heap's size
// track what is live, so the peak measures what the command holds.
func heapGrowth(t *testing.T, name string, bound int64, cmd func()) {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	stop := heapPeak()
	cmd()
	peak := stop()
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("%s: heap before %d KB, peak %d KB, growth %d KB", name, before.HeapAlloc>>10, peak>>10, growth>>10)
	if growth > bound {
		t.Fatalf("%s grew the heap by %d KB (bound %d KB)", name, growth>>10, bound>>10)
	}
}

// searchPeak runs UID SEARCH UNSEEN, which every one of the n messages
// matches, with the heap's growth bounded: a program on flags reads the
// light states and keeps no row per hit.
func searchPeak(t *testing.T, c *client, n int, bound int64) {
	t.Helper()
	var res, tagged, tag string
	heapGrowth(t, "UID SEARCH UNSEEN", bound, func() {
		tag = c.send("UID SEARCH UNSEEN")
		res, tagged = c.line(), c.line()
	})
	if tagged != tag+" OK SEARCH completed" {
		t.Fatalf("tagged reply %q", tagged)
	}
	if f := strings.Fields(res); len(f) != n+2 || f[1] != "SEARCH" || f[2] != "1" || f[n+1] != fmt.Sprint(n) {
		t.Fatalf("SEARCH response of %d fields (%.40q...), want %d UIDs", len(f), res, n)
	}
}

// fetchPeak runs FETCH 1:* items, checks the first of its n responses and
// the count, with the heap's growth bounded.
func fetchPeak(t *testing.T, c *client, items, first string, n int, bound int64) {
	t.Helper()
	got := 0
	heapGrowth(t, "FETCH 1:* "+items, bound, func() {
		tag := c.send("FETCH 1:* %s", items)
		for {
			l := c.line()
			if strings.HasPrefix(l, tag+" ") {
				if l != tag+" OK FETCH completed" {
					t.Fatalf("tagged reply %q", l)
				}
				return
			}
			got++
			if got == 1 && l != first {
				t.Fatalf("first response %q, want %q", l, first)
			}
		}
	})
	if got != n {
		t.Fatalf("%d FETCH responses for %d messages", got, n)
	}
}
