package bleveindex

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/searchtest"
)

// openTemp opens an index in a directory of the test's, closed when the
// test ends.
func openTemp(t *testing.T) *Index {
	t.Helper()
	x, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Index { return openTemp(t) })
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
// answers what the bleve query does, and both what the definition of the
// terms (search.Terms) says, over many segments, replaced and deleted
// documents, several mailboxes and users, and after merges.
func TestSegmentsAgreeWithQueries(t *testing.T) { segmentsAgree(t, false) }

// TestSegmentsAgreeWithSweeps: the same, with the vocabulary swept every
// few rounds (every other sweep in tiny chunks); after each sweep it is
// exactly the words of the documents the model says live, each with all
// its suffixes.
func TestSegmentsAgreeWithSweeps(t *testing.T) { segmentsAgree(t, true) }

func segmentsAgree(t *testing.T, sweeps bool) {
	x := openTemp(t)
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
	model := docModel{}
	check := func(round int) {
		for _, bx := range boxes {
			for _, q := range []string{"köln", "KÖLN", "throughput", "thr", "quota cluster", "ation", "zeppelin invoice", "a1b2", "strasse", "nothing-here"} {
				for _, fields := range [][]string{{search.FieldSubject}, {search.FieldBody, search.FieldAttachments}, {search.FieldHeaders, search.FieldBody, search.FieldAttachments}} {
					prefixes, _, ok := search.Plan(q)
					if !ok {
						continue
					}
					var terms [][]string
					for _, p := range prefixes {
						ts, err := x.voc.terms(p)
						if err != nil {
							t.Fatal(err)
						}
						terms = append(terms, ts)
					}
					want, _, err := x.querySearch(ctx, bx[0], bx[1], terms, fields)
					if err != nil {
						t.Fatal(err)
					}
					if def := model.search(bx, prefixes, fields); !slices.Equal(def, sorted(want)) {
						ids, _ := x.ids(ctx, scope(bx[0], bx[1]))
						for _, id := range ids {
							if isShared(id) {
								for _, m := range membersOf(id) {
									o, ok, _ := x.memberOf(m)
									t.Logf("%s member %s -> %v %v", id[:17], m, o == id, ok)
								}
							} else {
								t.Logf("own %s", id)
							}
						}
						t.Logf("model: %v", model[bx])
						t.Fatalf("round %d %v %q %v: query %v, by the terms' definition %v", round, bx, q, fields, sorted(want), def)
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
	swept := 0
	for round := range 30 {
		var docs []search.Doc
		for i := range 20 {
			bx := boxes[rng.IntN(len(boxes))]
			u := uid[bx] + 1
			if rng.IntN(4) == 0 && uid[bx] > 0 {
				u = 1 + uint32(rng.IntN(int(uid[bx]))) // replaces a document
			} else {
				uid[bx] = u
			}
			d := search.Doc{UserID: bx[0], MailboxID: bx[1], UID: u, Subject: text(2), Body: text(8), Attachments: text(3), Headers: text(2)}
			if len(docs) > 0 && rng.IntN(3) == 0 {
				// The text of an earlier document of the batch: one
				// message delivered to many (a shared document).
				o := docs[rng.IntN(len(docs))]
				d.Subject, d.Body, d.Attachments, d.Headers = o.Subject, o.Body, o.Attachments, o.Headers
				docs = append(docs, d)
				continue
			}
			if sweeps {
				// Words of this document alone, a long one among them,
				// that go when it is replaced or deleted.
				d.Body += fmt.Sprintf(" only%dx%d %s%dx%d", round, i, strings.Repeat("lengthy", 10), round, i)
			}
			docs = append(docs, d)
		}
		if err := x.Put(ctx, docs, search.Mark{UserID: "u1", MailboxID: "INBOX", UID: uid[boxes[0]]}); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			model[[2]string{d.UserID, d.MailboxID}] = append(model[[2]string{d.UserID, d.MailboxID}], d)
		}
		for range 1 + round%3 {
			bx := boxes[rng.IntN(len(boxes))]
			u := 1 + uint32(rng.IntN(int(max(uid[bx], 1))))
			if err := x.Delete(ctx, bx[0], bx[1], []uint32{u}); err != nil {
				t.Fatal(err)
			}
			model[bx] = append(model[bx], search.Doc{UserID: bx[0], MailboxID: bx[1], UID: u, Subject: "\x00deleted"})
		}
		if round%10 == 9 {
			// A mailbox deleted: its messages leave the shared
			// documents the others still hold.
			bx := boxes[rng.IntN(len(boxes))]
			if err := x.DeleteMailbox(ctx, bx[0], bx[1]); err != nil {
				t.Fatal(err)
			}
			for u := range uid[bx] {
				model[bx] = append(model[bx], search.Doc{UserID: bx[0], MailboxID: bx[1], UID: u + 1, Subject: "\x00deleted"})
			}
		}
		for _, bx := range boxes {
			got, err := x.UIDs(ctx, bx[0], bx[1])
			if err != nil {
				t.Fatal(err)
			}
			if want := model.live(bx); !slices.Equal(got, want) {
				t.Fatalf("round %d %v: UIDs %v, want %v", round, bx, got, want)
			}
		}
		if sweeps && round%4 == 3 {
			// Every other sweep in tiny chunks and rounds, so that
			// their edges are crossed many times.
			lim := defaultSweep()
			if round%8 == 3 {
				lim = sweepLimits{terms: 3, keys: 5, cands: 7}
			}
			n, err := x.sweep(ctx, lim)
			if err != nil {
				t.Fatal(err)
			}
			swept += n
			checkVocabulary(t, x, model.liveWords())
		}
		check(round)
	}
	if sweeps && swept == 0 {
		t.Error("no sweep removed a word: the test swept nothing")
	}
	t.Logf("sweeps removed %d words", swept)
}

// docModel is every Put and Delete, per mailbox, in order: a document's
// last version is what the index holds.
type docModel map[[2]string][]search.Doc

// search answers a plan by search.Terms of each document's last version:
// a field matches when each prefix begins one of its terms.
func (m docModel) search(bx [2]string, prefixes, fields []string) []uint32 {
	last := map[uint32]search.Doc{}
	for _, d := range m[bx] {
		last[d.UID] = d
	}
	var out []uint32
	for u, d := range last {
		if d.Subject == "\x00deleted" {
			continue
		}
		for _, f := range fields {
			terms := search.Terms(d.Fields()[f])
			if !slices.ContainsFunc(prefixes, func(p string) bool {
				return !slices.ContainsFunc(terms, func(t string) bool { return strings.HasPrefix(t, p) })
			}) {
				out = append(out, u)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// live is the UIDs of a mailbox's documents whose last version is not
// deleted.
func (m docModel) live(bx [2]string) []uint32 {
	last := map[uint32]search.Doc{}
	for _, d := range m[bx] {
		last[d.UID] = d
	}
	out := []uint32{}
	for u, d := range last {
		if d.Subject != "\x00deleted" {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// liveWords is the words of the documents' last versions, not deleted.
func (m docModel) liveWords() map[string]bool {
	out := map[string]bool{}
	for _, docs := range m {
		last := map[uint32]search.Doc{}
		for _, d := range docs {
			last[d.UID] = d
		}
		for _, d := range last {
			if d.Subject == "\x00deleted" {
				continue
			}
			for _, text := range d.Fields() {
				search.EachWord(text, func(w string) { out[w] = true })
			}
		}
	}
	return out
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
	x := openTemp(t)
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
// share its frequencies, and each distinct word is a term once.
func TestBatchTermsOnce(t *testing.T) {
	an := newBatchTerms()
	f1, f2 := newTextField("body", "walrus census walrus", an), newTextField("subject", "walrus census walrus", an)
	f1.Analyze()
	f2.Analyze()
	a, b := f1.AnalyzedTokenFrequencies(), f2.AnalyzedTokenFrequencies()
	if len(a) == 0 || reflect.ValueOf(a).UnsafePointer() != reflect.ValueOf(b).UnsafePointer() {
		t.Fatalf("the same text analyzed twice: %p %p", a, b)
	}
	want := []string{"census", "walrus"}
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

// TestLongWords: a word longer than maxWordTerm is one term of its
// beginning and a hash, so two long words with the same beginning stay
// apart, and a query for the end of one finds it alone.
func TestLongWords(t *testing.T) {
	x := openTemp(t)
	stem := strings.Repeat("abcdefgh", 10)
	docs := []search.Doc{
		{UserID: "u", MailboxID: "m", UID: 1, Body: "x " + stem + "tailone y"},
		{UserID: "u", MailboxID: "m", UID: 2, Body: "x " + stem + "tailtwo y"},
	}
	if err := x.Put(t.Context(), docs, search.Mark{UserID: "u", MailboxID: "m", UID: 2}); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string][]uint32{"tailone": {1}, "ghtailtwo": {2}, stem[:16]: {1, 2}, "habcd": {1, 2}} {
		got, ok, err := x.Search(t.Context(), "u", "m", q, search.FieldBody)
		if err != nil || !ok || !slices.Equal(got, want) {
			t.Errorf("Search(%q) = %v %v %v, want %v", q, got, ok, err, want)
		}
	}
	if a, b := wordTerm(stem+"tailone"), wordTerm(stem+"tailtwo"); a == b || len(a) > maxWordTerm || !strings.HasPrefix(a, stem[:maxWordTerm-17]) {
		t.Errorf("wordTerm: %q and %q", a, b)
	}
}

// TestOlderFormatRebuilt: an index without a vocabulary (as the release
// before it wrote) opens empty, saying so; one with it keeps its
// documents.
func TestOlderFormatRebuilt(t *testing.T) {
	dir := t.TempDir()
	put := func(x *Index) {
		doc := search.Doc{UserID: "u", MailboxID: "m", UID: 1, Body: "walrus"}
		if err := x.Put(t.Context(), []search.Doc{doc}, search.Mark{UserID: "u", MailboxID: "m", UID: 1}); err != nil {
			t.Fatal(err)
		}
	}
	reopen := func(rebuilt bool, mark uint32) *Index {
		t.Helper()
		x, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		if x.Rebuilt() != rebuilt {
			t.Fatalf("Rebuilt() = %v, want %v", x.Rebuilt(), rebuilt)
		}
		if m, err := x.Indexed(t.Context(), "u", "m"); err != nil || m != mark {
			t.Fatalf("mark %d %v, want %d", m, err, mark)
		}
		return x
	}
	x := reopen(false, 0)
	put(x)
	x.Close()
	x = reopen(false, 1)
	x.Close()
	if err := os.RemoveAll(filepath.Join(dir, vocabDir)); err != nil {
		t.Fatal(err)
	}
	x = reopen(true, 0)
	put(x)
	if got, ok, err := x.Search(t.Context(), "u", "m", "alru", search.FieldBody); err != nil || !ok || !slices.Equal(got, []uint32{1}) {
		t.Fatalf("Search after the rebuild: %v %v %v", got, ok, err)
	}
	x.Close()
	reopen(false, 1).Close()

	// The release before shared documents kept its vocabulary in
	// vocabV1: its index is kept, the directory renamed, so that a
	// rollback to it finds no vocabulary and makes its index anew.
	if err := os.Rename(filepath.Join(dir, vocabDir), filepath.Join(dir, vocabV1)); err != nil {
		t.Fatal(err)
	}
	x = reopen(false, 1)
	if got, ok, err := x.Search(t.Context(), "u", "m", "alru", search.FieldBody); err != nil || !ok || !slices.Equal(got, []uint32{1}) {
		t.Fatalf("Search after the rename: %v %v %v", got, ok, err)
	}
	x.Close()
	if hasVocab(filepath.Join(dir, vocabV1)) {
		t.Error("the previous release's vocabulary directory is still there: a rollback would read shared documents")
	}
}
