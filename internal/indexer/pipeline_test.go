package indexer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// countingIndex is a real index that records the requests it is sent
// and, while gate is set, holds each Put until gate is closed.
type countingIndex struct {
	search.Index
	mu    sync.Mutex
	puts  []put
	gate  chan struct{}
	entry chan struct{} // receives once per Put, if set
}

type put struct{ docs, marks int }

func (c *countingIndex) Put(ctx context.Context, docs []search.Doc, marks ...search.Mark) error {
	c.mu.Lock()
	c.puts = append(c.puts, put{len(docs), len(marks)})
	gate, entry := c.gate, c.entry
	c.mu.Unlock()
	if entry != nil {
		entry <- struct{}{}
	}
	if gate != nil {
		<-gate
	}
	return c.Index.Put(ctx, docs, marks...)
}

func (c *countingIndex) requests() []put {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.puts)
}

func (c *countingIndex) sizes() []int {
	var n []int
	for _, p := range c.requests() {
		n = append(n, p.docs)
	}
	return n
}

// TestPipelineBatchesDeliveries: deliveries to many mailboxes that arrive
// while an index request is written become one request, with a mark per
// mailbox, and each is indexed.
func TestPipelineBatchesDeliveries(t *testing.T) {
	r := newRig(t)
	ci := &countingIndex{Index: r.idx, gate: make(chan struct{}), entry: make(chan struct{}, 8)}
	s := New(Options{Store: r.st, Index: ci, Converter: r.conv, Workers: 1, Delay: time.Millisecond})
	r.st.SetIndexHook(s)
	runUntilEnd(t, s)

	r.deliver("Subject: first\r\n\r\nalpha\r\n")
	<-ci.entry // the first request is being written
	users := []store.User{r.u}
	for i := range 5 {
		u, err := r.st.CreateUser(r.ctx, fmt.Sprintf("u%d@example.test", i), "$test$")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
		r.deliverTo(u, fmt.Sprintf("Subject: m%d\r\n\r\nbravo\r\n", i))
	}
	r.deliverTo(r.u, "Subject: second\r\n\r\nbravo\r\n")
	close(ci.gate)
	for _, u := range users {
		mb, err := r.st.Mailbox(r.ctx, u, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		want := uint32(1)
		if u.ID == r.u.ID {
			want = 2
		}
		eventually(t, u.Address+" indexed", func() bool { return r.mark(mb) == want })
		if got := r.find(mb, search.FieldBody, "bravo"); !slices.Equal(got, []uint32{want}) {
			t.Fatalf("%s: BODY bravo %v, want [%d]", u.Address, got, want)
		}
	}
	if got := ci.requests(); !slices.Equal(got, []put{{1, 1}, {6, 6}}) {
		t.Fatalf("index requests (docs, marks) %v, want [{1 1} {6 6}]: the six deliveries made while the first was written share one", got)
	}
	eventually(t, "seven documents counted", func() bool { return s.Stats().Indexed == 7 })
	if st := s.Stats(); st.Batches != 2 || st.BatchDocsMax != 6 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBatchBytesBound: an index request reads no more than about
// BatchBytes of messages (one message at least), whatever Batch allows,
// and the rest of the mailbox follows in later requests.
func TestBatchBytesBound(t *testing.T) {
	r := newRig(t)
	ci := &countingIndex{Index: r.idx, gate: make(chan struct{}), entry: make(chan struct{}, 16)}
	msg := "Subject: big\r\n\r\n" + strings.Repeat("charlie delta echo\r\n", 50) // 1,020 bytes
	s := New(Options{Store: r.st, Index: ci, Converter: r.conv, Workers: 1, Delay: time.Millisecond, BatchBytes: 2500})
	r.st.SetIndexHook(s)
	runUntilEnd(t, s)
	r.deliver(msg)
	<-ci.entry // the first request is being written; seven more gather
	for range 7 {
		r.deliver(msg)
	}
	close(ci.gate)
	mb, err := r.st.Mailbox(r.ctx, r.u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "eight messages indexed", func() bool { return r.mark(mb) == 8 })
	if got := ci.sizes(); !slices.Equal(got, []int{1, 3, 3, 1}) {
		t.Fatalf("documents per index request %v, want [1 3 3 1]: at most 2,500 bytes of 1,020-byte messages, the one that passes it included", got)
	}
}

// TestOneBodyOneText: a delivery to five recipients stores one body in
// five mailboxes; the batch that indexes them reads and converts it once
// and gives each mailbox its own document. In immediate mode the five
// deliveries convert the attachment once before their replies, too.
func TestOneBodyOneText(t *testing.T) {
	for _, deferred := range []bool{true, false} {
		t.Run(fmt.Sprintf("deferred=%v", deferred), func(t *testing.T) { oneBodyOneText(t, deferred) })
	}
}

func oneBodyOneText(t *testing.T, deferred bool) {
	r := newRig(t)
	ci := &countingIndex{Index: r.idx}
	s := New(Options{Store: r.st, Index: ci, Converter: r.conv, Deferred: deferred, Workers: 1, Delay: 200 * time.Millisecond})
	r.st.SetIndexHook(s)
	runUntilEnd(t, s)
	users := []store.User{r.u}
	for i := range 4 {
		u, err := r.st.CreateUser(r.ctx, fmt.Sprintf("v%d@example.test", i), "$test$")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	sp, err := r.st.Spool(strings.NewReader(withAttachment("five", "quokka")), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i, err := range r.st.Deliver(r.ctx, sp, "", users) {
		if err != nil {
			t.Fatalf("recipient %d: %v", i, err)
		}
	}
	for _, u := range users {
		mb, err := r.st.Mailbox(r.ctx, u, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, u.Address+" indexed", func() bool { return r.mark(mb) == 1 })
		if got := r.find(mb, search.FieldAttachments, "quokka"); !slices.Equal(got, []uint32{1}) {
			t.Fatalf("%s: BODY quokka %v, want [1]", u.Address, got)
		}
	}
	if got := ci.sizes(); !slices.Equal(got, []int{5}) {
		t.Fatalf("documents per index request %v, want [5]", got)
	}
	// One lookup, a miss: deferred, the batch's; immediate, the first
	// delivery's, and the batch takes the text that delivery converted
	// (no second decoding and hashing to find it in the cache).
	if st := r.conv.Stats(); st.CacheMisses != 1 || st.CacheHits != 0 {
		t.Fatalf("the attachment was looked up %d times (%d misses), want once (a miss) for five recipients", st.CacheMisses+st.CacheHits, st.CacheMisses)
	}
}

func (r *rig) deliverTo(u store.User, raw string) {
	r.t.Helper()
	sp, err := r.st.Spool(strings.NewReader(raw), 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer sp.Close()
	if errs := r.st.Deliver(r.ctx, sp, "", []store.User{u}); errs[0] != nil {
		r.t.Fatal(errs[0])
	}
}

// TestIndexLagBounded: a delivered message is indexed within a bounded
// time of its delivery, and the lag is reported.
func TestIndexLagBounded(t *testing.T) {
	r := newRig(t)
	s := r.service(Options{Delay: 20 * time.Millisecond}, true)
	inbox := r.mailbox("INBOX")
	for i := range 20 {
		r.deliver(fmt.Sprintf("Subject: lag %d\r\n\r\ncharlie\r\n", i))
	}
	start := time.Now()
	eventually(t, "all twenty indexed", func() bool { return r.mark(inbox) == 20 && s.Stats().Indexed == 20 })
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the last delivery was indexed %v after it returned", d)
	}
	st := s.Stats()
	if st.Indexed != 20 || st.LagP99Ms <= 0 || st.LagP99Ms > 5000 || st.LagMaxMs < st.LagP99Ms {
		t.Fatalf("stats %+v: want 20 indexed with a p99 lag under 5 s", st)
	}
}

// slowHost is a converter host that answers once release is closed.
func slowHost(t *testing.T, release chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"kind": convert.KindRTF, "text": "slowword"})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDeliveryWaitBound: a conversion slower than DeliveryWait does not
// hold the reply past it; it finishes in the background into the cache,
// and the pipeline indexes its text.
func TestDeliveryWaitBound(t *testing.T) {
	r := newRig(t)
	release := make(chan struct{})
	r.conv = convert.New(convert.Options{Cache: r.st, Hosts: []string{slowHost(t, release)}})
	t.Cleanup(r.conv.Close)
	s := r.service(Options{DeliveryWait: 50 * time.Millisecond}, false)
	raw := withAttachment("slow", "ignored")
	start := time.Now()
	r.deliver(raw)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the delivery took %v with delivery_wait 50 ms", d)
	}
	if st := s.Stats(); st.LateConversions != 1 {
		t.Fatalf("stats %+v: want 1 late conversion", st)
	}
	close(release)
	eventually(t, "the conversion finished in the background", func() bool { return r.conv.Stats().Conversions[convert.KindRTF] == 1 })
	r.requireCached(raw)
	runUntilEnd(t, s)
	inbox := r.mailbox("INBOX")
	eventually(t, "the delivery indexed", func() bool { return r.mark(inbox) == 1 })
	if got := r.find(inbox, search.FieldAttachments, "slowword"); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("BODY slowword: %v", got)
	}
}

// staleIndex answers Indexed from a view that never refreshes, as an
// engine between refreshes does.
type staleIndex struct{ *countingIndex }

func (staleIndex) Indexed(context.Context, string, string) (uint32, error) { return 0, nil }

// TestStaleMarkNotReindexed: with an engine whose marks read stale, the
// pipeline's next batch of a mailbox starts above the mark it wrote
// itself, not at the stale one: each message is sent once.
func TestStaleMarkNotReindexed(t *testing.T) {
	r := newRig(t)
	ci := &countingIndex{Index: r.idx}
	s := New(Options{Store: r.st, Index: staleIndex{ci}, Converter: r.conv, Workers: 1, Delay: time.Millisecond})
	r.st.SetIndexHook(s)
	runUntilEnd(t, s)
	inbox := r.mailbox("INBOX")
	for i := range 3 {
		r.deliver(fmt.Sprintf("Subject: s%d\r\n\r\ndelta\r\n", i))
		eventually(t, "the delivery indexed", func() bool { return r.mark(inbox) == uint32(i+1) })
	}
	if got := ci.sizes(); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("index requests of %v documents, want [1 1 1]: a stale mark made the pipeline index again", got)
	}
}
