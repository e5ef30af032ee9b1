package indexer

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// expungingBackend is a real backend that, once, expunges every message
// of the batch just after the indexer's first read of it: the second read
// of fillGaps finds none, as under imaptest's APPEND and EXPUNGE load.
type expungingBackend struct {
	store.Backend
	once sync.Once
	gone func()
}

func (e *expungingBackend) Messages(ctx context.Context, mailboxID string, lo, hi mail.UID, fn func(store.MessageRow) error) error {
	err := e.Backend.Messages(ctx, mailboxID, lo, hi, fn)
	if hi == 0 { // rowsFrom's read (a full batch ends it with an error)
		e.once.Do(e.gone)
	}
	return err
}

// TestCatchUpBatchExpungedBetweenReads: a batch with a gap whose messages
// are all expunged before the second read indexes nothing, moves the mark
// past them, and goes on with the next messages (it panicked with index
// out of range [-1]).
func TestCatchUpBatchExpungedBetweenReads(t *testing.T) {
	r := newRig(t)
	for range 4 {
		r.deliver("Subject: s\r\n\r\ngone\r\n") // no hook on r.st: nothing indexed yet
	}
	inbox := r.mailbox("INBOX")
	if _, err := r.st.Expunge(r.ctx, inbox, []mail.UID{2}); err != nil { // a gap: 1, 3, 4
		t.Fatal(err)
	}
	eb := &expungingBackend{Backend: r.b}
	eb.gone = func() {
		if _, err := r.st.Expunge(r.ctx, inbox, []mail.UID{1, 3}); err != nil {
			t.Error(err)
		}
	}
	s := New(Options{Store: store.New(eb, store.Options{}), Index: r.idx, Converter: r.conv, Batch: 2})
	n, err := s.CatchUp(r.ctx, inbox)
	if err != nil || n != 1 {
		t.Fatalf("catch-up: %d, %v; want 1 (UID 4), nil", n, err)
	}
	if m := r.mark(inbox); m != 4 {
		t.Fatalf("mark %d, want 4", m)
	}
	if got := r.find(inbox, search.FieldBody, "gone"); !slices.Equal(got, []uint32{4}) {
		t.Fatalf("indexed %v, want [4]", got)
	}
	if st := s.Stats(); st.Panics != 0 || st.Errors != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// panickyIndex is a real index whose Put and Delete panic while told to:
// a bug in the index client.
type panickyIndex struct {
	search.Index
	mu                  sync.Mutex
	putPanics, delPanic int
}

func (p *panickyIndex) Put(ctx context.Context, docs []search.Doc, marks ...search.Mark) error {
	p.mu.Lock()
	boom := p.putPanics > 0
	p.putPanics--
	p.mu.Unlock()
	if boom {
		panic("put (test)")
	}
	return p.Index.Put(ctx, docs, marks...)
}

func (p *panickyIndex) Delete(ctx context.Context, userID, mailboxID string, uids []uint32) error {
	p.mu.Lock()
	boom := p.delPanic > 0
	p.delPanic--
	p.mu.Unlock()
	if boom {
		panic("delete (test)")
	}
	return p.Index.Delete(ctx, userID, mailboxID, uids)
}

// TestPanicsAreRecovered: a panic in a background catch-up and one in the
// deletion loop are recovered and counted, and the workers go on
// indexing and deleting afterwards.
func TestPanicsAreRecovered(t *testing.T) {
	r := newRig(t)
	pi := &panickyIndex{Index: r.idx, putPanics: 1, delPanic: 1}
	s := New(Options{Store: r.st, Index: pi, Converter: r.conv, Deferred: true})
	r.st.SetIndexHook(s)
	ctx, cancel := context.WithCancel(r.ctx)
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	inbox := r.mailbox("INBOX")
	r.deliver("Subject: one\r\n\r\nfirstword\r\n")
	eventually(t, "the catch-up's panic counted", func() bool { return s.Stats().Panics == 1 })
	if m := r.mark(inbox); m != 0 {
		t.Fatalf("mark %d after a panicking catch-up, want 0", m)
	}
	r.deliver("Subject: two\r\n\r\nsecondword\r\n")
	eventually(t, "both messages indexed after the panic", func() bool { return r.mark(inbox) == 2 })
	if got := r.find(inbox, search.FieldBody, "firstword"); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("BODY firstword: %v", got)
	}

	if _, err := r.st.Expunge(r.ctx, inbox, []mail.UID{1}); err != nil { // Delete panics
		t.Fatal(err)
	}
	eventually(t, "the deletion's panic counted", func() bool { return s.Stats().Panics == 2 })
	if _, err := r.st.Expunge(r.ctx, inbox, []mail.UID{2}); err != nil { // the restarted loop deletes
		t.Fatal(err)
	}
	eventually(t, "the second expunge's document deleted", func() bool { return len(r.find(inbox, search.FieldBody, "secondword")) == 0 })
	if st := s.Stats(); st.Panics != 2 || st.Errors != 1 {
		t.Fatalf("stats %+v, want 2 panics and 1 error (the failed catch-up)", st)
	}
}
