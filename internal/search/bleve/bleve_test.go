package bleveindex

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/searchtest"
)

func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Index {
		x, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { x.Close() })
		return x
	})
}

// TestReopen: what was indexed survives closing and opening the index.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Put(t.Context(), []search.Doc{{UserID: "u", MailboxID: "m", UID: 9, Body: "persistent zeppelin"}}); err != nil {
		t.Fatal(err)
	}
	x.Close()
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	got, ok, err := x.Search(t.Context(), "u", "m", "zeppelin", search.FieldBody)
	if err != nil || !ok || len(got) != 1 || got[0] != 9 {
		t.Fatalf("after reopening: %v %v %v", got, ok, err)
	}
}

// TestSegmentsAgreeWithQueries: the posting-list search (segments.go)
// answers what the bleve query does, over many segments, replaced and
// deleted documents, several mailboxes and users, and after merges.
func TestSegmentsAgreeWithQueries(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	ctx := t.Context()
	words := []string{"köln", "throughput", "quota", "cluster", "latency", "replication", "invoice", "meeting", "straße", "notes", "zeppelin", "a1b2"}
	rng := rand.New(rand.NewPCG(6, 6))
	text := func(n int) string {
		var b strings.Builder
		for range n {
			b.WriteString(words[rng.IntN(len(words))])
			b.WriteByte(' ')
		}
		return b.String()
	}
	boxes := [][2]string{{"u1", "INBOX"}, {"u1", "Sent"}, {"u2", "INBOX"}}
	check := func(round int) {
		for _, bx := range boxes {
			for _, q := range []string{"köln", "KÖLN", "throughput", "thr", "quota cluster", "ation", "zeppelin invoice", "a1b2", "strasse", "nothing-here"} {
				for _, fields := range [][]string{{search.FieldSubject}, {search.FieldBody, search.FieldAttachments}, {search.FieldHeaders, search.FieldBody, search.FieldAttachments}} {
					prefixes, _, ok := search.Plan(q)
					if !ok {
						continue
					}
					want, _, err := x.querySearch(ctx, bx[0], bx[1], prefixes, fields)
					if err != nil {
						t.Fatal(err)
					}
					got, ok, err := x.Search(ctx, bx[0], bx[1], q, fields...)
					if err != nil || !ok {
						t.Fatalf("Search: %v %v", ok, err)
					}
					if !slices.Equal(got, sorted(want)) {
						t.Fatalf("round %d %v %q %v: segments %v, query %v", round, bx, q, fields, got, sorted(want))
					}
				}
			}
		}
	}
	uid := map[[2]string]uint32{}
	for round := range 30 {
		var docs []search.Doc
		for range 20 {
			bx := boxes[rng.IntN(len(boxes))]
			u := uid[bx] + 1
			if rng.IntN(4) == 0 && uid[bx] > 0 {
				u = 1 + uint32(rng.IntN(int(uid[bx]))) // replaces a document
			} else {
				uid[bx] = u
			}
			docs = append(docs, search.Doc{UserID: bx[0], MailboxID: bx[1], UID: u, Subject: text(2), Body: text(8), Attachments: text(3), Headers: text(2)})
		}
		if err := x.Put(ctx, docs, search.Mark{UserID: "u1", MailboxID: "INBOX", UID: uid[boxes[0]]}); err != nil {
			t.Fatal(err)
		}
		if round%3 == 2 {
			bx := boxes[rng.IntN(len(boxes))]
			if err := x.Delete(ctx, bx[0], bx[1], []uint32{1 + uint32(rng.IntN(int(max(uid[bx], 1))))}); err != nil {
				t.Fatal(err)
			}
		}
		check(round)
	}
}

func sorted(u []uint32) []uint32 {
	u = slices.Clone(u)
	slices.Sort(u)
	return u
}

// TestOneMessageManyMailboxes: a delivery to five recipients puts five
// documents of one text in a batch; they share one analysis (batchTerms)
// and each mailbox finds its own document, by a word and by a suffix.
func TestOneMessageManyMailboxes(t *testing.T) {
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var docs []search.Doc
	for i := range 5 {
		docs = append(docs, search.Doc{UserID: "u" + string(rune('a'+i)), MailboxID: "inbox", UID: uint32(10 + i),
			Subject: "quarterly walrus census", Body: "the walruses of Svalbard"})
	}
	docs = append(docs, search.Doc{UserID: "ua", MailboxID: "other", UID: 3, Body: "no such animal"})
	if err := x.Put(t.Context(), docs); err != nil {
		t.Fatal(err)
	}
	for i, d := range docs[:5] {
		for _, q := range []string{"walrus", "alrus", "svalbard"} {
			got, ok, err := x.Search(t.Context(), d.UserID, "inbox", q, search.FieldSubject, search.FieldBody)
			if err != nil || !ok || !slices.Equal(got, []uint32{uint32(10 + i)}) {
				t.Errorf("%s: %q found %v (%v, %v), want [%d]", d.UserID, q, got, ok, err, 10+i)
			}
		}
	}
	if got, _, _ := x.Search(t.Context(), "ua", "other", "walrus", search.FieldBody); len(got) != 0 {
		t.Errorf("the other mailbox found %v", got)
	}
}

// TestBatchTermsOnce: one text is analyzed once per batch, its documents
// share its frequencies, and each distinct term counts once.
func TestBatchTermsOnce(t *testing.T) {
	an := newBatchTerms()
	f1, f2 := newTextField("body", "walrus census walrus", an), newTextField("subject", "walrus census walrus", an)
	f1.Analyze()
	f2.Analyze()
	a, b := f1.AnalyzedTokenFrequencies(), f2.AnalyzedTokenFrequencies()
	if len(a) == 0 || reflect.ValueOf(a).UnsafePointer() != reflect.ValueOf(b).UnsafePointer() {
		t.Fatalf("the same text analyzed twice: %p %p", a, b)
	}
	want := search.Terms("walrus census walrus")
	var got []string
	for term, tf := range a {
		if string(tf.Term) != term || tf.Frequency() != 1 {
			t.Errorf("term %q: Term %q, frequency %d", term, tf.Term, tf.Frequency())
		}
		got = append(got, term)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || f1.AnalyzedLength() != len(want) {
		t.Errorf("terms %q (length %d), want %q", got, f1.AnalyzedLength(), want)
	}
	f3 := newTextField("body", "other text", an)
	f3.Analyze()
	if _, ok := f3.AnalyzedTokenFrequencies()["walrus"]; ok {
		t.Fatal("another text got the first one's terms")
	}
}

// TestDeletesRideTheNextBatch: Delete only queues; the next Put applies
// the queue in its own batch (one snapshot, not one a delete), a Search
// first applies it, and Close applies what is left.
func TestDeletesRideTheNextBatch(t *testing.T) {
	dir := t.TempDir()
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	docs := func() uint64 {
		n, err := x.idx.DocCount()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	put := func(uid uint32) {
		if err := x.Put(ctx, []search.Doc{{UserID: "u", MailboxID: "m", UID: uid, Body: "queued walrus"}}); err != nil {
			t.Fatal(err)
		}
	}
	put(1)
	put(2)
	put(3)
	if err := x.Delete(ctx, "u", "m", []uint32{1}); err != nil {
		t.Fatal(err)
	}
	if n := docs(); n != 3 {
		t.Fatalf("%d documents right after Delete, want 3: it queues", n)
	}
	put(4)
	if n := docs(); n != 3 {
		t.Fatalf("%d documents after the next Put, want 3 (one deleted, one added)", n)
	}
	if err := x.Delete(ctx, "u", "m", []uint32{2}); err != nil {
		t.Fatal(err)
	}
	got, _, err := x.Search(ctx, "u", "m", "walrus", search.FieldBody)
	if err != nil || !slices.Equal(got, []uint32{3, 4}) {
		t.Fatalf("Search after a queued Delete: %v %v, want [3 4]", got, err)
	}
	if err := x.Delete(ctx, "u", "m", []uint32{3}); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if n := docs(); n != 1 {
		t.Fatalf("%d documents after Close and Open, want 1: Close applies the queue", n)
	}
}
