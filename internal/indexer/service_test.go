package indexer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
	bleveindex "github.com/quiremail/quire/internal/search/bleve"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// rig is a store on the embedded backend with a bleve index and a
// converter, the indexer's whole world.
type rig struct {
	t    *testing.T
	ctx  context.Context
	st   *store.Store
	b    store.Backend
	idx  *flakyIndex
	conv *convert.Converter
	u    store.User
}

// flakyIndex is a real bleve index that fails writes while broken.
type flakyIndex struct {
	search.Index
	mu     sync.Mutex
	broken bool
}

func (f *flakyIndex) Put(ctx context.Context, docs []search.Doc, marks ...search.Mark) error {
	f.mu.Lock()
	broken := f.broken
	f.mu.Unlock()
	if broken {
		return errors.New("index down (test)")
	}
	return f.Index.Put(ctx, docs, marks...)
}

// SweepVocabulary passes the sweep on to a bleve index.
func (f *flakyIndex) SweepVocabulary(ctx context.Context) (int, error) {
	if vs, ok := f.Index.(VocabularySweeper); ok {
		return vs.SweepVocabulary(ctx)
	}
	return 0, nil
}

func (f *flakyIndex) setBroken(b bool) {
	f.mu.Lock()
	f.broken = b
	f.mu.Unlock()
}

func newRig(t *testing.T) *rig {
	t.Helper()
	bl, err := bleveindex.Open(t.TempDir() + "/index")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	return newRigOn(t, bl)
}

// newRigOn is newRig over the index idx.
func newRigOn(t *testing.T, idx search.Index) *rig {
	t.Helper()
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	r := &rig{t: t, ctx: context.Background(), b: b, st: store.New(b, store.Options{}), idx: &flakyIndex{Index: idx}}
	r.conv = convert.New(convert.Options{Cache: r.st})
	t.Cleanup(r.conv.Close)
	if r.u, err = r.st.CreateUser(r.ctx, "ann@example.test", "$test$"); err != nil {
		t.Fatal(err)
	}
	return r
}

// service makes a Service over the rig and runs it until the test ends
// when run is set.
func (r *rig) service(o Options, run bool) *Service {
	o.Store, o.Index, o.Converter = r.st, r.idx, r.conv
	s := New(o)
	r.st.SetIndexHook(s)
	if run {
		runUntilEnd(r.t, s)
	}
	return s
}

// withAttachment is a message whose word is only in an RTF attachment.
func withAttachment(subject, word string) string {
	return "From: b@example.test\r\nSubject: " + subject + "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--x\r\nContent-Type: application/rtf; name=a.rtf\r\n\r\n{\\rtf1\\ansi {\\b " + word + "} report}\r\n--x--\r\n"
}

func (r *rig) deliver(raw string) {
	r.t.Helper()
	sp, err := r.st.Spool(strings.NewReader(raw), 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer sp.Close()
	if errs := r.st.Deliver(r.ctx, sp, "", []store.User{r.u}); errs[0] != nil {
		r.t.Fatal(errs[0])
	}
}

func (r *rig) appendTo(mb store.Mailbox, raw string) mail.UID {
	r.t.Helper()
	sp, err := r.st.Spool(strings.NewReader(raw), 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer sp.Close()
	if err := r.st.PutBody(r.ctx, sp); err != nil {
		r.t.Fatal(err)
	}
	uids, err := r.st.Append(r.ctx, r.u, mb, store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure})
	if err != nil {
		r.t.Fatal(err)
	}
	return uids[0]
}

func (r *rig) mailbox(name string) store.Mailbox {
	r.t.Helper()
	mb, err := r.st.Mailbox(r.ctx, r.u, name)
	if err != nil {
		r.t.Fatal(err)
	}
	return mb
}

func (r *rig) mark(mb store.Mailbox) uint32 {
	r.t.Helper()
	n, err := r.idx.Indexed(r.ctx, mb.UserID, mb.ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

func (r *rig) find(mb store.Mailbox, field, text string) []uint32 {
	r.t.Helper()
	got, _, err := r.idx.Search(r.ctx, mb.UserID, mb.ID, text, field)
	if err != nil {
		r.t.Fatal(err)
	}
	slices.Sort(got)
	return got
}

func (r *rig) marks() int {
	r.t.Helper()
	n := 0
	if err := r.b.Unindexed(r.ctx, "", func(store.Unindexed) error { n++; return nil }); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// runUntilEnd runs s's background work until the test ends.
func runUntilEnd(t *testing.T, s *Service) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestImmediateDelivery: in immediate mode a delivery's attachment is
// converted into the cache before Deliver returns, but the delivery does
// not wait for the index: the pipeline indexes it afterwards, from the
// cache.
func TestImmediateDelivery(t *testing.T) {
	r := newRig(t)
	s := r.service(Options{}, false) // no pipeline yet
	r.deliver(withAttachment("first", "zeppelin"))
	inbox := r.mailbox("INBOX")
	if m := r.mark(inbox); m != 0 {
		t.Fatalf("mark %d right after an immediate delivery, want 0: the reply waited for the index", m)
	}
	if cs := r.conv.Stats(); cs.CacheMisses != 1 {
		t.Fatalf("converter stats %+v, want 1 cache miss (the RTF converted at delivery)", cs)
	}
	r.requireCached(withAttachment("first", "zeppelin"))
	runUntilEnd(t, s)
	eventually(t, "the delivery indexed", func() bool { return r.mark(inbox) == 1 && s.Stats().Indexed == 1 })
	if got := r.find(inbox, search.FieldAttachments, "zeppelin"); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("BODY zeppelin: %v", got)
	}
	if got := r.find(inbox, search.FieldSubject, "first"); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("SUBJECT first: %v", got)
	}
	st := s.Stats()
	if st.Indexed != 1 || st.Errors != 0 || st.LastLagMs < 0 || st.Batches != 1 {
		t.Fatalf("stats %+v", st)
	}
	if cs := r.conv.Stats(); cs.CacheMisses != 1 {
		t.Fatalf("converter stats %+v: the pipeline converted again instead of reading the cache", cs)
	}
}

// countingBackend counts the message rows read.
type countingBackend struct {
	store.Backend
	messages atomic.Int64
}

func (b *countingBackend) Messages(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageRow) error) error {
	b.messages.Add(1)
	return b.Backend.Messages(ctx, mailboxID, lo, hi, fn)
}

// TestImmediateDeliveryReadsNoRow: the conversion before the reply works
// from the rows the store committed (IndexHook.Added), without reading
// them back (a Cassandra round trip before every reply).
func TestImmediateDeliveryReadsNoRow(t *testing.T) {
	r := newRig(t)
	cb := &countingBackend{Backend: r.b}
	r.st = store.New(cb, store.Options{})
	r.conv = convert.New(convert.Options{Cache: r.st})
	t.Cleanup(r.conv.Close)
	r.service(Options{}, false) // no pipeline: only the delivery's own work
	r.deliver(withAttachment("counted", "quokka"))
	if n := cb.messages.Load(); n != 0 {
		t.Fatalf("the delivery read message rows %d times", n)
	}
	if cs := r.conv.Stats(); cs.CacheMisses != 1 {
		t.Fatalf("converter stats %+v, want the RTF converted at delivery", cs)
	}
	r.requireCached(withAttachment("counted", "quokka"))
}

// requireCached fails unless the attachment of raw converts from the
// cache: a converter of its own (no flights shared) finds it there.
func (r *rig) requireCached(raw string) {
	r.t.Helper()
	c := convert.New(convert.Options{Cache: r.st})
	defer c.Close()
	sp, err := r.st.Spool(strings.NewReader(raw), 0)
	if err != nil {
		r.t.Fatal(err)
	}
	defer sp.Close()
	c.Attachments(r.ctx, []byte(raw), sp.Part)
	if cs := c.Stats(); cs.CacheHits != 1 || cs.CacheMisses != 0 {
		r.t.Fatalf("converter stats %+v: the attachment's text is not in the cache", cs)
	}
}

// TestBackground: appends, copies and deferred deliveries are indexed by
// the workers; expunge and mailbox deletion remove documents.
func TestBackground(t *testing.T) {
	r := newRig(t)
	r.service(Options{Deferred: true}, true)
	inbox, archive := r.mailbox("INBOX"), r.mailbox("Archive")
	r.deliver(withAttachment("d1", "aubergine"))
	uid := r.appendTo(archive, withAttachment("a1", "fjordland"))
	eventually(t, "INBOX and Archive indexed", func() bool { return r.mark(inbox) == 1 && r.mark(archive) == uint32(uid) })
	if got := r.find(archive, search.FieldAttachments, "fjordland"); !slices.Equal(got, []uint32{uint32(uid)}) {
		t.Fatalf("BODY fjordland: %v", got)
	}
	_, to, err := r.st.Copy(r.ctx, r.u, archive, inbox, []mail.UID{uid})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the copy indexed", func() bool { return r.mark(inbox) == uint32(to[0]) })
	if got := r.find(inbox, search.FieldAttachments, "fjordland"); !slices.Equal(got, []uint32{uint32(to[0])}) {
		t.Fatalf("BODY fjordland in INBOX after the copy: %v", got)
	}
	if _, err := r.st.Expunge(r.ctx, inbox, to); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the expunged copy's document gone", func() bool { return len(r.find(inbox, search.FieldAttachments, "fjordland")) == 0 })
	if err := r.st.DeleteMailbox(r.ctx, archive); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the deleted mailbox's documents gone", func() bool {
		return len(r.find(archive, search.FieldAttachments, "fjordland")) == 0 && r.mark(archive) == 0
	})
}

// TestResumeAfterRestart: deliveries that no host indexed (the host
// stopped before its pipeline ran), in either mode, are found in the index
// queue by the next start.
func TestResumeAfterRestart(t *testing.T) {
	for _, deferred := range []bool{true, false} {
		t.Run(fmt.Sprintf("deferred=%v", deferred), func(t *testing.T) {
			r := newRig(t)
			r.service(Options{Deferred: deferred}, false) // "crashes" before indexing
			r.deliver(withAttachment("one", "quixotic"))
			r.deliver(withAttachment("two", "quixotic"))
			inbox := r.mailbox("INBOX")
			if m, n := r.mark(inbox), r.marks(); m != 0 || n != 1 {
				t.Fatalf("before the restart: mark %d, %d queued marks; want 0 and 1", m, n)
			}
			r.service(Options{Deferred: deferred, Margin: time.Millisecond, SweepEvery: 20 * time.Millisecond}, true) // the restart
			eventually(t, "both deliveries indexed after the restart", func() bool { return r.mark(inbox) == 2 })
			if got := r.find(inbox, search.FieldAttachments, "quixotic"); !slices.Equal(got, []uint32{1, 2}) {
				t.Fatalf("BODY quixotic: %v", got)
			}
			eventually(t, "the mark cleared", func() bool { return r.marks() == 0 })
		})
	}
}

// TestIndexDown: a failing index never fails a delivery; the mark stays
// and the sweep indexes what was missed.
func TestIndexDown(t *testing.T) {
	r := newRig(t)
	r.idx.setBroken(true)
	// Margin is what keeps a commit in flight from losing its mark to a
	// catch-up that read the mailbox before it landed (2 minutes by
	// default). A delivery marks its INBOX while its body is written,
	// then commits: with a margin of 1 ms the first sweep, reading the
	// mailbox in that gap, cleared the mark in 11 runs of 200.
	s := r.service(Options{Margin: 300 * time.Millisecond, SweepEvery: 50 * time.Millisecond, Delay: time.Millisecond}, true)
	r.deliver(withAttachment("lost?", "platypus")) // must not fail
	inbox := r.mailbox("INBOX")
	eventually(t, "the failed index request counted", func() bool { return s.Stats().Errors > 0 })
	if st := s.Stats(); st.Indexed != 0 {
		t.Fatalf("stats with the index down: %+v", st)
	}
	if r.marks() != 1 {
		t.Fatalf("the mailbox is not marked after a failed index request: %d marks", r.marks())
	}
	r.idx.setBroken(false)
	eventually(t, "the sweep indexed the delivery", func() bool { return r.mark(inbox) == 1 })
	if got := r.find(inbox, search.FieldAttachments, "platypus"); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("BODY platypus: %v", got)
	}
	eventually(t, "the mark cleared", func() bool { return r.marks() == 0 })
}

// TestReindex rebuilds a user's documents, reporting progress.
func TestReindex(t *testing.T) {
	r := newRig(t)
	s := r.service(Options{}, false)
	for range 5 {
		r.deliver(withAttachment("r", "wombat"))
	}
	archive := r.mailbox("Archive")
	r.appendTo(archive, withAttachment("r", "wombat"))
	inbox := r.mailbox("INBOX")
	if err := r.idx.DeleteUser(r.ctx, r.u.ID); err != nil { // a lost index
		t.Fatal(err)
	}
	var last [2]int64
	calls := 0
	if err := s.Reindex(r.ctx, r.u, func(done, total int64) { calls++; last = [2]int64{done, total} }); err != nil {
		t.Fatal(err)
	}
	if last != [2]int64{6, 6} || calls < 2 {
		t.Fatalf("progress ended at %v after %d calls; want [6 6]", last, calls)
	}
	if got := r.find(inbox, search.FieldAttachments, "wombat"); len(got) != 5 {
		t.Fatalf("INBOX BODY wombat after reindex: %v", got)
	}
	if r.mark(inbox) != 5 || r.mark(archive) != 1 {
		t.Fatalf("marks %d %d after reindex", r.mark(inbox), r.mark(archive))
	}
}

// hidingBackend is a real backend whose first scan from a UID other than
// 1 misses one message, as a store under load once did.
type hidingBackend struct {
	store.Backend
	mu   sync.Mutex
	hide mail.UID
}

func (h *hidingBackend) Messages(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageRow) error) error {
	h.mu.Lock()
	hide := h.hide
	if lo <= hide && hi == 0 {
		h.hide = 0 // once
	}
	h.mu.Unlock()
	return h.Backend.Messages(ctx, mailboxID, lo, hi, func(r store.MessageRow) error {
		if hi == 0 && r.UID == hide {
			return nil
		}
		return fn(r)
	})
}

// TestCatchUpReadsGapsAgain: a batch that skips a UID is read again, so
// the mark never passes a message the index lacks.
func TestCatchUpReadsGapsAgain(t *testing.T) {
	r := newRig(t)
	hb := &hidingBackend{Backend: r.b, hide: 3}
	st := store.New(hb, store.Options{})
	s := New(Options{Store: st, Index: r.idx, Converter: r.conv})
	inbox := r.mailbox("INBOX")
	for range 5 {
		r.deliver(withAttachment("g", "gapword")) // no hook on r.st: nothing indexed yet
	}
	if n, err := s.CatchUp(r.ctx, inbox); err != nil || n != 5 {
		t.Fatalf("catch-up: %d, %v", n, err)
	}
	if got := r.find(inbox, search.FieldAttachments, "gapword"); !slices.Equal(got, []uint32{1, 2, 3, 4, 5}) {
		t.Fatalf("indexed %v, want all five", got)
	}
	if st := s.Stats(); st.Rereads != 1 || st.Found != 1 {
		t.Fatalf("stats %+v, want one reread that found one message", st)
	}
}

// TestBacklogInBatches: a delivery over a backlog does not index it; the
// pipeline does, at most Batch documents per request.
func TestBacklogInBatches(t *testing.T) {
	r := newRig(t)
	for range 250 { // stored before any indexer: a backlog
		r.deliver("Subject: backlog\r\n\r\nold message\r\n")
	}
	ci := &countingIndex{Index: r.idx}
	s := New(Options{Store: r.st, Index: ci, Converter: r.conv, Batch: 100, Workers: 1})
	r.st.SetIndexHook(s)
	r.deliver(withAttachment("new", "newword"))
	inbox := r.mailbox("INBOX")
	if m := r.mark(inbox); m != 0 {
		t.Fatalf("mark %d after an immediate delivery over a backlog, want 0", m)
	}
	if st := s.Stats(); st.Queued != 1 {
		t.Fatalf("stats %+v: the mailbox is not queued", st)
	}
	runUntilEnd(t, s)
	eventually(t, "the backlog indexed in the background", func() bool { return r.mark(inbox) == 251 })
	if got := ci.sizes(); !slices.Equal(got, []int{100, 100, 51}) {
		t.Fatalf("index requests of %v documents, want [100 100 51]", got)
	}
}
