package indexer

import (
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/opensearch"
	"github.com/quiremail/quire/internal/search/opensearch/ostest"
	"github.com/quiremail/quire/internal/store"
)

// TestCheckIndex plants a missing document (under the mark) and a stale
// one (of a UID not in the mailbox) in a real bleve index: the store's
// check with the indexer's Check finds both, its repair fixes both, and
// a second check finds nothing. SEARCH finds the message again.
func TestCheckIndex(t *testing.T) {
	testCheckIndex(t, newRig(t))
}

// TestCheckIndexOpenSearch is TestCheckIndex on a real OpenSearch
// (QUIRE_TEST_OPENSEARCH; scripts/opensearch.sh start), refreshing after
// each write as the tests of package opensearch do.
func TestCheckIndexOpenSearch(t *testing.T) {
	u, name := ostest.Index(t)
	c, err := opensearch.New(t.Context(), opensearch.Options{URL: u, Index: name, Refresh: true, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	testCheckIndex(t, newRigOn(t, c))
}

// testCheckIndex: a healthy index has no finding; a lost document and a
// stray one are found, repaired, and SEARCH finds the message again.
func testCheckIndex(t *testing.T, r *rig) {
	s := New(Options{Store: r.st, Index: r.idx.Index, Converter: r.conv})
	r.st.SetIndexHook(s)
	inbox := r.mailbox("INBOX")
	var uids []mail.UID
	for _, w := range []string{"aardvark", "badger", "capybara"} {
		uids = append(uids, r.appendTo(inbox, "From: a@example.test\r\nSubject: "+w+"\r\n\r\n"+w+"\r\n"))
	}
	if _, err := s.CatchUp(r.ctx, inbox); err != nil {
		t.Fatal(err)
	}
	if r.mark(inbox) != uint32(uids[2]) {
		t.Fatalf("mark %d after the catch-up, want %d", r.mark(inbox), uids[2])
	}
	check := func(repair bool) []store.Finding {
		t.Helper()
		rep, err := r.st.Check(r.ctx, r.u, store.CheckOptions{Repair: repair, Index: s.Check})
		if err != nil {
			t.Fatal(err)
		}
		return rep.Findings
	}
	if fs := check(false); len(fs) != 0 {
		t.Fatalf("a healthy index: findings %v", fs)
	}

	// Plant: badger's document is lost; a document for UID 99 appears.
	if err := r.idx.Delete(r.ctx, r.u.ID, inbox.ID, []uint32{uint32(uids[1])}); err != nil {
		t.Fatal(err)
	}
	stray := search.Doc{UserID: r.u.ID, MailboxID: inbox.ID, UID: 99, Subject: "stray"}
	if err := r.idx.Put(r.ctx, []search.Doc{stray}); err != nil {
		t.Fatal(err)
	}
	if got := r.find(inbox, search.FieldSubject, "badger"); len(got) != 0 {
		t.Fatalf("the planted loss did not take: badger found at %v", got)
	}

	want := func(fs []store.Finding, repaired bool) {
		t.Helper()
		var got []string
		for _, f := range fs {
			if f.Kind != "index" || f.Repaired != repaired {
				t.Errorf("finding %s: want kind index, repaired %v", f, repaired)
			}
			got = append(got, f.String())
		}
		if len(fs) != 2 || fs[0].UID != uint32(uids[1]) || !strings.Contains(fs[0].Detail, "no document") ||
			fs[1].UID != 99 || !strings.Contains(fs[1].Detail, "not in the mailbox") {
			t.Fatalf("findings:\n%s\nwant uid %d missing, uid 99 stale", strings.Join(got, "\n"), uids[1])
		}
	}
	want(check(false), false)
	want(check(true), true)
	if fs := check(false); len(fs) != 0 {
		t.Fatalf("after the repair: findings %v", fs)
	}
	if got := r.find(inbox, search.FieldSubject, "badger"); len(got) != 1 || got[0] != uint32(uids[1]) {
		t.Fatalf("SUBJECT badger after the repair: %v", got)
	}
}

// TestCheckIndexUnlistable: an engine that cannot list documents cannot
// be checked, and says so rather than passing as healthy.
func TestCheckIndexUnlistable(t *testing.T) {
	r := newRig(t)
	s := New(Options{Store: r.st, Index: r.idx, Converter: r.conv}) // flakyIndex hides UIDs
	if s.CanCheck() {
		t.Fatal("CanCheck of an engine without UIDs")
	}
	if _, err := r.st.Check(r.ctx, r.u, store.CheckOptions{Index: s.Check}); err == nil || !strings.Contains(err.Error(), "cannot list") {
		t.Fatalf("Check: %v", err)
	}
}
