package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/opensearch/ostest"
	"github.com/quiremail/quire/internal/search/searchtest"
)

// open connects to the test node with a fresh index, deleted afterwards.
func open(t *testing.T, pageSize int) *Client {
	t.Helper()
	u, name := ostest.Index(t)
	c, err := New(context.Background(), Options{URL: u, Index: name, Refresh: true, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestConformance runs the index suite on a real OpenSearch, with pages
// small enough that searches page.
func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Index { return open(t, 7) })
}

// TestLargeResultOnePage: a search of more hits than the engines' default
// max_result_window (10,000) is answered in one request, because the
// index's window is the page size, also on an index that existed before.
func TestLargeResultOnePage(t *testing.T) {
	c := open(t, 20000)
	ctx := t.Context()
	const n = 12000
	docs := make([]search.Doc, 0, 1000)
	for u := uint32(1); u <= n; u++ {
		docs = append(docs, search.Doc{UserID: "u", MailboxID: "m", UID: u, Body: "common words here"})
		if len(docs) == cap(docs) {
			if err := c.Put(ctx, docs); err != nil {
				t.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	got, ok, err := c.Search(ctx, "u", "m", "common", search.FieldBody)
	if err != nil || !ok {
		t.Fatalf("search: %v %v", ok, err)
	}
	if len(got) != n || got[0] != 1 || got[n-1] != n {
		t.Fatalf("%d hits (want %d)", len(got), n)
	}
	// Opened again with a larger page: the existing index's window grows.
	o := c.o
	o.PageSize = 30000
	if _, err := New(ctx, o); err != nil {
		t.Fatal(err)
	}
	var settings map[string]struct {
		Settings struct {
			Index struct {
				MaxResultWindow string `json:"max_result_window"`
			} `json:"index"`
		} `json:"settings"`
	}
	if _, err := c.do(ctx, "GET", "/"+o.Index+"/_settings", nil, &settings); err != nil {
		t.Fatal(err)
	}
	if w := settings[o.Index].Settings.Index.MaxResultWindow; w != "30000" {
		t.Fatalf("max_result_window %q after reopening, want 30000", w)
	}
}

// countingTransport counts the requests a client sends.
type countingTransport struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

// TestSearchAllOneRequest: a program's queries and the mark are one
// request; a mark document written before marks carried a uid (an older
// version) still answers, the plain way, until the next Put rewrites it.
func TestSearchAllOneRequest(t *testing.T) {
	c := open(t, 1000)
	ctx := t.Context()
	tr := &countingTransport{next: http.DefaultTransport}
	c.o.HTTP = &http.Client{Transport: tr}
	docs := []search.Doc{
		{UserID: "u", MailboxID: "m", UID: 1, Subject: "alpha", Body: "common"},
		{UserID: "u", MailboxID: "m", UID: 2, Subject: "beta", Body: "common"},
		{UserID: "u", MailboxID: "m", UID: 3, Subject: "alphabet", From: "beta@example.test"},
	}
	if err := c.Put(ctx, docs, search.Mark{UserID: "u", MailboxID: "m", UID: 3}); err != nil {
		t.Fatal(err)
	}
	qs := []search.Query{
		{Text: "alpha", Fields: []string{search.FieldSubject}},
		{Text: "beta", Fields: []string{search.FieldSubject, search.FieldFrom}},
		{Text: "common", Fields: []string{search.FieldBody}},
	}
	want := [][]uint32{{1, 3}, {2, 3}, {1, 2}}
	ask := func(wantMark uint32, wantRequests int32) {
		t.Helper()
		tr.n.Store(0)
		mark, answers, err := c.SearchAll(ctx, "u", "m", qs)
		if err != nil {
			t.Fatal(err)
		}
		if n := tr.n.Load(); n != wantRequests {
			t.Errorf("%d requests, want %d", n, wantRequests)
		}
		if mark != wantMark {
			t.Errorf("mark %d, want %d", mark, wantMark)
		}
		for i, a := range answers {
			if !a.OK || !slices.Equal(a.UIDs, want[i]) {
				t.Errorf("query %q: %v %v, want %v", qs[i].Text, a.OK, a.UIDs, want[i])
			}
		}
	}
	ask(3, 1)
	// The mark as an older version wrote it: no uid field.
	var old bytes.Buffer
	_ = json.NewEncoder(&old).Encode(map[string]any{"index": map[string]any{"_index": c.o.Index, "_id": markID("u", "m"), "routing": "u"}})
	_ = json.NewEncoder(&old).Encode(map[string]any{"user": "u", "mailbox": "m", "mark": 2})
	if err := c.bulk(ctx, &old); err != nil {
		t.Fatal(err)
	}
	ask(2, 1+1+3) // the search, then the mark and each query
	if err := c.Put(ctx, nil, search.Mark{UserID: "u", MailboxID: "m", UID: 3}); err != nil {
		t.Fatal(err)
	}
	ask(3, 1)
}

// TestUIDs: the documents of one mailbox, ascending, across pages,
// without the mailbox's mark or another mailbox's or user's documents
// (indexer.DocLister, for quire check).
func TestUIDs(t *testing.T) {
	c := open(t, 3)
	ctx := t.Context()
	var docs []search.Doc
	for _, u := range []uint32{9, 1, 4, 7, 2, 12, 30} {
		docs = append(docs, search.Doc{UserID: "u1", MailboxID: "m1", UID: u, Subject: "s"})
	}
	docs = append(docs, search.Doc{UserID: "u1", MailboxID: "m2", UID: 5, Subject: "s"},
		search.Doc{UserID: "u2", MailboxID: "m1", UID: 6, Subject: "s"})
	if err := c.Put(ctx, docs, search.Mark{UserID: "u1", MailboxID: "m1", UID: 30}); err != nil {
		t.Fatal(err)
	}
	got, err := c.UIDs(ctx, "u1", "m1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint32{1, 2, 4, 7, 9, 12, 30}; !slices.Equal(got, want) {
		t.Fatalf("UIDs = %v, want %v", got, want)
	}
	if err := c.Delete(ctx, "u1", "m1", []uint32{4, 30}); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, nil, search.Mark{UserID: "u1", MailboxID: "m1", UID: 30}); err != nil { // applies the deletions
		t.Fatal(err)
	}
	got, err = c.UIDs(ctx, "u1", "m1")
	if want := []uint32{1, 2, 7, 9, 12}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("after a deletion, UIDs = %v (%v), want %v", got, err, want)
	}
	if got, err := c.UIDs(ctx, "u3", "m1"); err != nil || len(got) != 0 {
		t.Fatalf("UIDs of a mailbox without documents = %v (%v)", got, err)
	}
}

// TestPresent: Present reads in real time, so a deletion made without a
// refresh (as the server's client makes them) is seen at once, where a
// search may still list the document (indexer.DocConfirmer).
func TestPresent(t *testing.T) {
	u, name := ostest.Index(t)
	ctx := t.Context()
	c, err := New(ctx, Options{URL: u, Index: name, PageSize: 10}) // no refresh on writes
	if err != nil {
		t.Fatal(err)
	}
	var docs []search.Doc
	for _, uid := range []uint32{1, 2, 3} {
		docs = append(docs, search.Doc{UserID: "u1", MailboxID: "m1", UID: uid, Subject: "s"})
	}
	if err := c.Put(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Present(ctx, "u1", "m1", []uint32{1, 2, 3, 9}); err != nil || !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("Present right after Put = %v (%v), want [1 2 3]", got, err)
	}
	if err := c.Delete(ctx, "u1", "m1", []uint32{2}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Present(ctx, "u1", "m1", []uint32{1, 2, 3}); err != nil || !slices.Equal(got, []uint32{1, 3}) {
		t.Fatalf("Present right after Delete = %v (%v), want [1 3]", got, err)
	}
	if got, err := c.Present(ctx, "u1", "m2", []uint32{1}); err != nil || len(got) != 0 {
		t.Fatalf("Present in another mailbox = %v (%v), want none", got, err)
	}
}
