package bleveindex

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/search"
)

// vocabKeys is the vocabulary as stored: each term and its suffixes.
func vocabKeys(t *testing.T, x *Index) map[string][]string {
	t.Helper()
	it, err := x.voc.db.NewIter(&pebble.IterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	out := map[string][]string{}
	for ok := it.First(); ok; ok = it.Next() {
		switch it.Key()[0] {
		case memberPrefix:
			continue // shared.go's
		case pendingDel:
			t.Fatalf("a deletion of a shared document left pending: %q", it.Key())
		}
		s, term, ok := splitKey(it.Key())
		if !ok {
			t.Fatalf("a key of no known form: %q", it.Key())
		}
		out[string(term)] = append(out[string(term)], string(s))
	}
	if err := it.Error(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkVocabulary fails unless the vocabulary holds exactly the terms of
// words, each with every suffix of its word.
func checkVocabulary(t *testing.T, x *Index, words map[string]bool) {
	t.Helper()
	got := vocabKeys(t, x)
	want := map[string][]string{}
	for w := range words {
		var sufs []string
		search.EachSuffix(w, func(s string) { sufs = append(sufs, s) })
		slices.Sort(sufs)
		want[wordTerm(w)] = slices.Compact(sufs)
	}
	for term, sufs := range got {
		slices.Sort(sufs)
		if w, ok := want[term]; !ok {
			t.Errorf("the vocabulary holds %q, which no live document does", term)
		} else if !slices.Equal(sufs, w) {
			t.Errorf("the vocabulary holds %q with suffixes %q, want %q", term, sufs, w)
		}
	}
	for term := range want {
		if _, ok := got[term]; !ok {
			t.Errorf("the vocabulary lacks %q, which a live document holds", term)
		}
	}
}

// TestSweepDeletedUser: after a user is deleted and the vocabulary swept,
// none of the words only that user's mail held is on disk (the Pebble
// keys are scanned), the other user's are all there, and a later Put of
// the removed words writes them again (the sweep made them forgotten as
// known), so SEARCH finds them.
func TestSweepDeletedUser(t *testing.T) {
	x := openTemp(t)
	ctx := t.Context()
	long := strings.Repeat("walrusgeheimnis", 6) // over maxWordTerm: a term of a prefix and a hash
	gone := search.Doc{UserID: "u1", MailboxID: "INBOX", UID: 1, Subject: "confidential merger", Body: "shared words and zanzibar " + long + "one",
		Attachments: "blueprint"}
	stays := search.Doc{UserID: "u2", MailboxID: "INBOX", UID: 1, Subject: "shared words", Body: "ordinary " + long + "two"}
	other := search.Doc{UserID: "u1", MailboxID: "Sent", UID: 4, Body: "sent quietly"}
	if err := x.Put(ctx, []search.Doc{gone, stays, other}); err != nil {
		t.Fatal(err)
	}
	if n, err := x.SweepVocabulary(ctx); err != nil || n != 0 {
		t.Fatalf("a sweep with every word held removed %d (%v)", n, err)
	}
	if err := x.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	n, err := x.SweepVocabulary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// u1's own words: confidential merger and zanzibar <long>one blueprint sent quietly
	if n != 8 {
		t.Errorf("the sweep removed %d words, want 8", n)
	}
	live := map[string]bool{}
	for _, text := range stays.Fields() {
		search.EachWord(text, func(w string) { live[w] = true })
	}
	checkVocabulary(t, x, live)
	for term := range vocabKeys(t, x) {
		for _, w := range []string{"confidential", "merger", "and", "zanzibar", "blueprint", "sent", "quietly", wordTerm(long + "one")} {
			if term == w {
				t.Errorf("the deleted user's word %q is still in the vocabulary", w)
			}
		}
	}
	// The user comes back with the same words: they are written again.
	if err := x.Put(ctx, []search.Doc{gone}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"fidential", "zanzibar", "nisone", "blueprint"} {
		got, ok, err := x.Search(ctx, "u1", "INBOX", q, search.FieldSubject, search.FieldBody, search.FieldAttachments)
		if err != nil || !ok || !slices.Equal(got, []uint32{1}) {
			t.Errorf("Search(%q) after the words were swept and put again: %v %v %v, want [1]", q, got, ok, err)
		}
	}
}

// TestSweepRacesPut: Puts of words that deleted documents held before,
// while sweeps run without pause; every document is found by its word
// right after its Put. Without sweepMu a sweep checks a word after Put
// wrote it and before bleve applied the batch, removes it, and the
// document is lost to SEARCH.
func TestSweepRacesPut(t *testing.T) {
	x := openTemp(t)
	ctx := t.Context()
	var stop atomic.Bool
	var wg sync.WaitGroup
	var sweeps, removed atomic.Int64
	sweepErr := make(chan error, 1)
	wg.Go(func() {
		for !stop.Load() {
			n, err := x.SweepVocabulary(ctx)
			if err != nil {
				sweepErr <- err
				return
			}
			sweeps.Add(1)
			removed.Add(int64(n))
		}
	})
	words := make([]string, 16)
	for i := range words {
		words[i] = fmt.Sprintf("racewordnumber%c%c", 'a'+i, 'a'+i)
	}
	lost := 0
	for round := range 300 {
		w := words[round%len(words)]
		u := uint32(round + 1)
		if err := x.Put(ctx, []search.Doc{{UserID: "u", MailboxID: "m", UID: u, Body: w + " filler"}}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := x.Search(ctx, "u", "m", w, search.FieldBody)
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		if !slices.Contains(got, u) {
			lost++
			if lost <= 3 {
				t.Errorf("round %d: %q found %v, not the document just put (%d)", round, w, got, u)
			}
		}
		// Deleted at once (the Search applies it): the word is held by
		// no document until the round that puts it again.
		if err := x.Delete(ctx, "u", "m", []uint32{u}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-sweepErr:
		t.Fatal(err)
	default:
	}
	if lost > 0 {
		t.Errorf("%d of 300 documents lost to SEARCH", lost)
	}
	t.Logf("%d sweeps removed %d words", sweeps.Load(), removed.Load())
	if removed.Load() == 0 {
		t.Error("no sweep removed a word: the test raced nothing")
	}
	if _, err := x.SweepVocabulary(ctx); err != nil {
		t.Fatal(err)
	}
	checkVocabulary(t, x, map[string]bool{})
}

// cutCtx is a context whose Err reports it cancelled from its n-th call
// on: a sweep cut short between two chunks.
type cutCtx struct {
	context.Context
	calls, n int
}

func (c *cutCtx) Err() error {
	c.calls++
	if c.calls >= c.n {
		return context.Canceled
	}
	return nil
}

// TestSweepCutShort: a sweep stopped after it deleted some of the keys of
// the words no document holds leaves, of each such word, the key that
// stands for it, so the next sweep finds the word and removes the rest:
// nothing is left behind for ever.
func TestSweepCutShort(t *testing.T) {
	x := openTemp(t)
	ctx := t.Context()
	var b strings.Builder
	for i := range 1500 { // about 17,000 keys: pass 2 deletes them in chunks
		fmt.Fprintf(&b, "cutshort%04dwordly ", i)
	}
	if err := x.Put(ctx, []search.Doc{{UserID: "u", MailboxID: "m", UID: 1, Body: b.String()}}); err != nil {
		t.Fatal(err)
	}
	if err := x.DeleteUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	before := len(vocabKeys(t, x))
	// Err: once in pass 1, once for the first chunk of pass 2, then cut.
	if _, err := x.SweepVocabulary(&cutCtx{Context: ctx, n: 3}); !errors.Is(err, context.Canceled) {
		t.Fatalf("the cut sweep: %v", err)
	}
	left := vocabKeys(t, x)
	if len(left) != before {
		t.Fatalf("%d words of %d left after the cut sweep: it should have cut each word's keys, not removed words", len(left), before)
	}
	partial := 0
	for term, sufs := range left {
		if !slices.ContainsFunc(sufs, func(s string) bool { return standsFor([]byte(s), []byte(term)) }) {
			t.Fatalf("the cut sweep left %q without the key that stands for it: %q", term, sufs)
		}
		if len(sufs) < len(term)-2 {
			partial++
		}
	}
	if partial == 0 {
		t.Fatal("the cut sweep deleted nothing: the test cut nothing")
	}
	if n, err := x.SweepVocabulary(ctx); err != nil || n != before {
		t.Fatalf("the next sweep removed %d words (%v), want %d", n, err, before)
	}
	checkVocabulary(t, x, map[string]bool{})
}
