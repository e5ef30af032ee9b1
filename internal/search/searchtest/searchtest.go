// Package searchtest is the conformance suite every search.Index passes:
// the same tests run on bleve and on OpenSearch.
package searchtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/search"
)

// Run runs the suite; open returns a fresh, empty index.
func Run(t *testing.T, open func(t *testing.T) search.Index) {
	t.Run("Search", func(t *testing.T) { testSearch(t, open(t)) })
	t.Run("Exact", func(t *testing.T) { testExact(t, open(t)) })
	t.Run("Marks", func(t *testing.T) { testMarks(t, open(t)) })
	t.Run("SearchAll", func(t *testing.T) { testSearchAll(t, open(t)) })
	t.Run("OneTextManyMailboxes", func(t *testing.T) { testOneText(t, open(t)) })
}

// testOneText: one message delivered to four mailboxes of three users in
// one Put (an index may hold its text once for all of them): each
// mailbox finds its own UID, and expunging, reindexing with another
// text, deleting a mailbox and deleting a user change only the
// mailbox or user they name.
func testOneText(t *testing.T, c search.Index) {
	ctx := context.Background()
	text := search.Doc{Subject: "walrus census", Body: "the walruses of Svalbard, counted", Headers: "Subject: walrus census"}
	type at struct {
		user, mailbox string
		uid           uint32
	}
	copies := []at{{"u1", "m1", 1}, {"u1", "m2", 7}, {"u2", "m1", 1}, {"u3", "m1", 9}}
	var docs []search.Doc
	for _, a := range copies {
		d := text
		d.UserID, d.MailboxID, d.UID = a.user, a.mailbox, a.uid
		docs = append(docs, d)
	}
	docs = append(docs, search.Doc{UserID: "u1", MailboxID: "m1", UID: 2, Body: "no such animal"})
	if err := c.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	expect := func(step string, want map[at]bool) {
		t.Helper()
		for _, a := range copies {
			for _, q := range []string{"walrus", "ALRUS", "svalbard"} {
				got, ok, err := c.Search(ctx, a.user, a.mailbox, q, search.FieldSubject, search.FieldBody)
				if err != nil || !ok {
					t.Fatalf("%s: %s/%s %q: %v %v", step, a.user, a.mailbox, q, ok, err)
				}
				var w []uint32
				if want[a] {
					w = []uint32{a.uid}
				}
				if !slices.Equal(sorted(got), w) {
					t.Errorf("%s: %s/%s %q found %v, want %v", step, a.user, a.mailbox, q, got, w)
				}
			}
		}
	}
	live := map[at]bool{copies[0]: true, copies[1]: true, copies[2]: true, copies[3]: true}
	expect("after the Put", live)

	if err := c.Delete(ctx, "u1", "m1", []uint32{1}); err != nil {
		t.Fatal(err)
	}
	delete(live, copies[0])
	expect("after u1/m1's copy is expunged", live)

	// u2's copy indexed again, with another text (a new conversion).
	if err := c.Put(ctx, []search.Doc{{UserID: "u2", MailboxID: "m1", UID: 1, Subject: "narwhal census", Body: "narwhals"}}); err != nil {
		t.Fatal(err)
	}
	delete(live, copies[2])
	expect("after u2's copy is reindexed", live)
	if got, _, _ := c.Search(ctx, "u2", "m1", "narwhal", search.FieldSubject); !slices.Equal(got, []uint32{1}) {
		t.Errorf("u2's new text: %v, want [1]", got)
	}

	if err := c.DeleteMailbox(ctx, "u1", "m2"); err != nil {
		t.Fatal(err)
	}
	delete(live, copies[1])
	expect("after u1/m2 is deleted", live)

	if err := c.DeleteUser(ctx, "u3"); err != nil {
		t.Fatal(err)
	}
	delete(live, copies[3])
	expect("after u3 is deleted", live)
	if got, _, _ := c.Search(ctx, "u1", "m1", "animal", search.FieldBody); !slices.Equal(got, []uint32{2}) {
		t.Errorf("u1/m1's other message: %v, want [2]", got)
	}
}

// testSearchAll: the answers are Search's, in the queries' order, with
// queries that cannot be asked told apart, and the mark is the
// mailbox's, also when it moves, and 0 before there is one.
func testSearchAll(t *testing.T, c search.Index) {
	ctx := context.Background()
	var docs []search.Doc
	for u := uint32(1); u <= 20; u++ {
		d := search.Doc{UserID: "u1", MailboxID: "m1", UID: u, Subject: fmt.Sprintf("report %d", u), Body: "plain"}
		if u%2 == 0 {
			d.Body = "zeppelin overhead"
		}
		if u%3 == 0 {
			d.From = "Zeppelin Fan <z@example.test>"
		}
		docs = append(docs, d)
	}
	docs = append(docs, search.Doc{UserID: "u1", MailboxID: "m2", UID: 2, Body: "zeppelin"})
	qs := []search.Query{
		{Text: "zeppelin", Fields: []string{search.FieldBody}},
		{Text: "ab", Fields: []string{search.FieldBody}}, // too short to ask
		{Text: "ZEPP", Fields: []string{search.FieldBody, search.FieldFrom}},
		{Text: "report 1", Fields: []string{search.FieldSubject}}, // a superset
		{Text: "nowhere", Fields: []string{search.FieldSubject}},
		// Conjunctions: the messages every part matches.
		{All: []search.Query{{Text: "zeppelin", Fields: []string{search.FieldBody}}, {Text: "ZEPP", Fields: []string{search.FieldBody, search.FieldFrom}}}},
		{All: []search.Query{{Text: "zeppelin", Fields: []string{search.FieldBody}}, {Text: "fan", Fields: []string{search.FieldFrom}}, {Text: "report 1", Fields: []string{search.FieldSubject}}}},
		{All: []search.Query{{Text: "zeppelin", Fields: []string{search.FieldBody}}, {Text: "ab", Fields: []string{search.FieldBody}}}},
		{All: []search.Query{}},
	}
	// ask is what SearchAll must answer to q: Search's answer, or the
	// intersection of the parts' for a conjunction, asked only when
	// every part can be.
	var ask func(q search.Query) ([]uint32, bool)
	ask = func(q search.Query) ([]uint32, bool) {
		if q.All == nil {
			uids, ok, err := c.Search(ctx, "u1", "m1", q.Text, q.Fields...)
			if err != nil {
				t.Fatal(err)
			}
			return sorted(uids), ok
		}
		var acc []uint32
		for i, sub := range q.All {
			uids, ok := ask(sub)
			if !ok {
				return nil, false
			}
			if i == 0 {
				acc = uids
				continue
			}
			acc = slices.DeleteFunc(acc, func(u uint32) bool { return !slices.Contains(uids, u) })
		}
		return acc, len(q.All) > 0
	}
	check := func(wantMark uint32) {
		t.Helper()
		mark, answers, err := c.SearchAll(ctx, "u1", "m1", qs)
		if err != nil {
			t.Fatal(err)
		}
		if mark != wantMark || len(answers) != len(qs) {
			t.Fatalf("mark %d and %d answers, want %d and %d", mark, len(answers), wantMark, len(qs))
		}
		for i, q := range qs {
			want, ok := ask(q)
			if answers[i].OK != ok || !slices.Equal(sorted(answers[i].UIDs), want) {
				t.Errorf("query %d (%+v): %v %v, Search says %v %v", i, q, answers[i].OK, answers[i].UIDs, ok, want)
			}
		}
		if n := len(answers[0].UIDs); n != 10 {
			t.Errorf("zeppelin in bodies: %d answers, want 10", n)
		}
		// Even UIDs have the body, multiples of 3 the sender: 6, 12, 18,
		// and "report 1" is in the subjects of 12 and 18 (6's may be in
		// the superset).
		got := sorted(answers[6].UIDs)
		if len(got) < 2 || got[len(got)-2] != 12 || got[len(got)-1] != 18 || len(got) == 3 && got[0] != 6 || len(answers[5].UIDs) != 10 {
			t.Errorf("conjunctions: %v and %d answers, want [12 18] or [6 12 18], and 10", got, len(answers[5].UIDs))
		}
	}
	if err := c.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	check(0) // no mark yet
	if err := c.Put(ctx, nil, search.Mark{UserID: "u1", MailboxID: "m1", UID: 20}, search.Mark{UserID: "u1", MailboxID: "m2", UID: 7}); err != nil {
		t.Fatal(err)
	}
	check(20)
	if err := c.Put(ctx, nil, search.Mark{UserID: "u1", MailboxID: "m1", UID: 25}); err != nil {
		t.Fatal(err)
	}
	check(25)
	// Nothing to ask: the mark alone.
	mark, answers, err := c.SearchAll(ctx, "u1", "m2", []search.Query{{Text: "ab", Fields: []string{search.FieldBody}}})
	if err != nil || mark != 7 || len(answers) != 1 || answers[0].OK {
		t.Fatalf("SearchAll of a query that cannot be asked: %d %+v %v", mark, answers, err)
	}
}

// testMarks: marks per mailbox, written with the documents, removed with
// the mailbox or the user, and never a search result.
func testMarks(t *testing.T, c search.Index) {
	ctx := context.Background()
	indexed := func(user, mb string) uint32 {
		t.Helper()
		n, err := c.Indexed(ctx, user, mb)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := indexed("u1", "m1"); n != 0 {
		t.Fatalf("a fresh index has mark %d", n)
	}
	doc := func(user, mb string, uid uint32) search.Doc {
		return search.Doc{UserID: user, MailboxID: mb, UID: uid, Subject: "mark test " + mb, Body: "zeppelin"}
	}
	if err := c.Put(ctx, []search.Doc{doc("u1", "m1", 1), doc("u1", "m1", 2)}, search.Mark{UserID: "u1", MailboxID: "m1", UID: 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, []search.Doc{doc("u1", "m2", 5)}, search.Mark{UserID: "u1", MailboxID: "m2", UID: 5}); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, []search.Doc{doc("u2", "m9", 1)}, search.Mark{UserID: "u2", MailboxID: "m9", UID: 1}); err != nil {
		t.Fatal(err)
	}
	if a, b, d := indexed("u1", "m1"), indexed("u1", "m2"), indexed("u2", "m9"); a != 2 || b != 5 || d != 1 {
		t.Fatalf("marks %d %d %d, want 2 5 1", a, b, d)
	}
	// A mark alone moves; a mark is never a candidate.
	if err := c.Put(ctx, nil, search.Mark{UserID: "u1", MailboxID: "m1", UID: 9}); err != nil {
		t.Fatal(err)
	}
	if n := indexed("u1", "m1"); n != 9 {
		t.Fatalf("mark %d after moving it to 9", n)
	}
	for _, f := range []string{search.FieldBody, search.FieldSubject} {
		got, _, err := c.Search(ctx, "u1", "m1", "mark", f)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if want := map[string][]uint32{search.FieldBody: nil, search.FieldSubject: {1, 2}}[f]; !slices.Equal(got, want) {
			t.Errorf("%s mark: %v, want %v", f, got, want)
		}
	}
	if err := c.DeleteMailbox(ctx, "u1", "m2"); err != nil {
		t.Fatal(err)
	}
	if n := indexed("u1", "m2"); n != 0 {
		t.Errorf("mark %d after DeleteMailbox", n)
	}
	if err := c.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if n := indexed("u1", "m1"); n != 0 {
		t.Errorf("mark %d after DeleteUser", n)
	}
	if got, _, _ := c.Search(ctx, "u1", "m1", "zeppelin", search.FieldBody); len(got) != 0 {
		t.Errorf("documents %v after DeleteUser", got)
	}
	if n := indexed("u2", "m9"); n != 1 {
		t.Errorf("another user's mark is %d after DeleteUser", n)
	}
	if got, _, _ := c.Search(ctx, "u2", "m9", "zeppelin", search.FieldBody); !slices.Equal(got, []uint32{1}) {
		t.Errorf("another user's documents %v after DeleteUser", got)
	}
}

func testSearch(t *testing.T, c search.Index) {
	ctx := context.Background()
	docs := []search.Doc{
		{UserID: "u1", MailboxID: "m1", UID: 1, Subject: "Quarterly Zeppelin report", From: "Jürgen <j@example.test>", Body: "the aubergine budget"},
		{UserID: "u1", MailboxID: "m1", UID: 2, Subject: "Lunch", Body: "ÉTÉ en Provence, zeppelins overhead"},
		{UserID: "u1", MailboxID: "m2", UID: 1, Subject: "zeppelin in another mailbox"},
		{UserID: "u2", MailboxID: "m1", UID: 1, Subject: "zeppelin of another user"},
		{UserID: "u1", MailboxID: "m1", UID: 3, Body: "\u212Aelvin ſcale"}, // Kelvin sign, long s
		{UserID: "u1", MailboxID: "m1", UID: 4, Body: "scale of kelvin"},
		{UserID: "u1", MailboxID: "m1", UID: 5, Body: "abcX bcd", Attachments: "İstanbul"}, // abc and bcd, but never abcd
		{UserID: "u1", MailboxID: "m1", UID: 6, Attachments: "istanbul"},
	}
	if err := c.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field, text string
		want        []uint32
	}{
		{search.FieldSubject, "zeppelin", []uint32{1}},
		{search.FieldSubject, "EPP", []uint32{1}},      // substring, any case
		{search.FieldSubject, "erly Zep", []uint32{1}}, // across a word boundary
		{search.FieldBody, "zeppelin", []uint32{2}},    // body, not subject
		{search.FieldBody, "été", []uint32{2}},         // case-folded non-ASCII
		{search.FieldFrom, "jürg", []uint32{1}},
		{search.FieldSubject, "nothing like it", nil},
		{search.FieldBody, "KELVIN", []uint32{3, 4}}, // SEARCH folds K, k and the Kelvin sign together
		{search.FieldBody, "SCALE", []uint32{3, 4}},  // and S, s and ſ
		{search.FieldBody, "ſcale", []uint32{3, 4}},
		{search.FieldBody, "abcd", nil},                    // abc and bcd, not abcd
		{search.FieldBody, "abcx b", []uint32{5}},          // across a space (a superset, here exact)
		{search.FieldAttachments, "İSTANBUL", []uint32{5}}, // İ folds with nothing else
		{search.FieldAttachments, "ISTANBUL", []uint32{6}},
	} {
		got, ok, err := c.Search(ctx, "u1", "m1", tc.text, tc.field)
		if err != nil || !ok {
			t.Fatalf("%s %q: %v %v", tc.field, tc.text, ok, err)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s %q: %v, want %v", tc.field, tc.text, got, tc.want)
		}
	}
	// Several fields: any of them.
	if got, _, _ := c.Search(ctx, "u1", "m1", "zeppelin", search.FieldSubject, search.FieldBody); !slices.Equal(sorted(got), []uint32{1, 2}) {
		t.Errorf("zeppelin in subject or body: %v", got)
	}
	if _, ok, _ := c.Search(ctx, "u1", "m1", "ab", search.FieldBody); ok {
		t.Error("a two-character query claimed to narrow")
	}
	// Reindexing replaces; Delete and DeleteMailbox remove.
	if err := c.Put(ctx, []search.Doc{{UserID: "u1", MailboxID: "m1", UID: 1, Subject: "renamed"}}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Search(ctx, "u1", "m1", "zeppelin", search.FieldSubject); len(got) != 0 {
		t.Errorf("after reindexing UID 1: %v", got)
	}
	if err := c.Delete(ctx, "u1", "m1", []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Search(ctx, "u1", "m1", "provence", search.FieldBody); len(got) != 0 {
		t.Errorf("after Delete: %v", got)
	}
	if err := c.DeleteMailbox(ctx, "u1", "m2"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := c.Search(ctx, "u1", "m2", "zeppelin", search.FieldSubject); len(got) != 0 {
		t.Errorf("after DeleteMailbox: %v", got)
	}
	if got, _, _ := c.Search(ctx, "u2", "m1", "zeppelin", search.FieldSubject); !slices.Equal(got, []uint32{1}) {
		t.Errorf("another user's mailbox was touched: %v", got)
	}
}

// testExact: for random texts and random substrings of them, the answer
// is exactly the texts that contain the substring, under Canon, when
// search.Exact says so, and a superset of them otherwise (the index's
// promise), through several result pages where the index pages.
func testExact(t *testing.T, c search.Index) {
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "Beta", "gamma", "déjà", "vu", "ZEPPELIN", "fjord", "straße", "東京", "x1", "ab", "ba"}
	var docs []search.Doc
	for i := range 60 {
		var b strings.Builder
		for range 3 + rnd.IntN(6) {
			b.WriteString(words[rnd.IntN(len(words))] + " ")
		}
		docs = append(docs, search.Doc{UserID: "u", MailboxID: "m", UID: uint32(i + 1), Body: b.String()})
	}
	if err := c.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	exact := 0
	for q := range 40 {
		src := []rune(docs[rnd.IntN(len(docs))].Body)
		start := rnd.IntN(len(src) - 3)
		n := 3 + rnd.IntN(min(8, len(src)-start-3)+1)
		needle := string(src[start:min(start+n, len(src))])
		switch q % 4 {
		case 0: // a short word, not asked, and a word: often absent
			needle = "vu alpha"
		case 1, 2: // within one word: exact
			long := []string{"alpha", "Beta", "gamma", "déjà", "ZEPPELIN", "fjord", "straße"}
			w := []rune(strings.ToUpper(long[rnd.IntN(len(long))]))
			i := rnd.IntN(len(w) - 2)
			needle = string(w[i : i+3+rnd.IntN(len(w)-i-2)])
		}
		got, ok, err := c.Search(ctx, "u", "m", needle, search.FieldBody)
		if _, _, planned := search.Plan(needle); err != nil || ok != planned {
			t.Fatalf("query %d %q: %v %v", q, needle, ok, err)
		}
		if !ok {
			continue // no word of search.MinQuery runes: the caller reads the messages
		}
		var want []uint32
		for _, d := range docs {
			if strings.Contains(search.Canon(d.Body), search.Canon(needle)) {
				want = append(want, d.UID)
			}
		}
		slices.Sort(got)
		if search.Exact(needle) && !slices.Equal(got, want) {
			t.Fatalf("exact query %q: got %v, want %v", needle, got, want)
		}
		for _, u := range want {
			if !slices.Contains(got, u) {
				t.Fatalf("query %q: UID %d contains it but is not in %v", needle, u, got)
			}
		}
		if search.Exact(needle) {
			exact++
		}
	}
	if exact < 10 {
		t.Fatalf("only %d of 40 queries were exact: the test does not test exactness", exact)
	}
	if _, ok, err := c.Search(ctx, "u", "m", "ab ba", search.FieldBody); ok || err != nil {
		t.Fatalf("words shorter than search.MinQuery were asked: %v %v", ok, err)
	}
	if got, _, _ := c.Search(ctx, "u", "m", "a"+fmt.Sprint(rnd.IntN(9))+"z", search.FieldBody); len(got) != 0 {
		t.Fatalf("an absent word matched %v", got)
	}
}

func sorted(u []uint32) []uint32 {
	slices.Sort(u)
	return u
}
