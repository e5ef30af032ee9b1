package imapserver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/indexer"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/search"
	bleveindex "github.com/quiremail/quire/internal/search/bleve"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// spyIndex is a real index that records queries, can hide a UID from
// results (to prove the index narrows), and can fail.
type spyIndex struct {
	search.Index
	mu      sync.Mutex
	queries int
	conj    int // conjunctions asked (search.Query.All)
	hide    uint32
	fail    bool
}

func (x *spyIndex) Search(ctx context.Context, user, mb, text string, fields ...string) ([]uint32, bool, error) {
	x.mu.Lock()
	x.queries++
	hide, fail := x.hide, x.fail
	x.mu.Unlock()
	if fail {
		return nil, false, errors.New("index down (test)")
	}
	uids, ok, err := x.Index.Search(ctx, user, mb, text, fields...)
	out := uids[:0]
	for _, u := range uids {
		if u != hide {
			out = append(out, u)
		}
	}
	return out, ok, err
}

// SearchAll asks each query through Search, so that the spy sees it.
func (x *spyIndex) SearchAll(ctx context.Context, user, mb string, qs []search.Query) (uint32, []search.Answer, error) {
	x.mu.Lock()
	for _, q := range qs {
		if q.All != nil {
			x.conj++
		}
	}
	x.mu.Unlock()
	return search.Sequential(ctx, x, user, mb, qs)
}

func (x *spyIndex) set(f func(x *spyIndex)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	f(x)
}

// indexedEnv is a server on a backend whose store is indexed into bleve
// (through idx) in immediate mode, by an indexer running until the test
// ends: deliveries are indexed shortly after Deliver returns
// (waitIndexed waits for it). SEARCH reads attachments through conv.
func indexedEnv(t *testing.T, backend string) (*env, *spyIndex, *convert.Converter) {
	t.Helper()
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, backend), store.Options{Publish: hub.Publish})
	bl, err := bleveindex.Open(t.TempDir() + "/index")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bl.Close() })
	idx := &spyIndex{Index: bl}
	conv := convert.New(convert.Options{Cache: st})
	t.Cleanup(conv.Close)
	svc := indexer.New(indexer.Options{Store: st, Index: idx, Converter: conv})
	st.SetIndexHook(svc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	e := newEnv(t, st, hub, func(o *Options) {
		o.Search = idx
		o.Attachments = func(ctx context.Context, raw []byte, root *message.Part) string {
			return conv.Attachments(ctx, raw, root)
		}
	})
	return e, idx, conv
}

// waitIndexed waits until the user's INBOX is indexed through uid.
func waitIndexed(t *testing.T, e *env, idx search.Index, uid uint32) {
	t.Helper()
	mb := mustInbox(t, e.st, e.user)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		m, err := idx.Indexed(context.Background(), e.user.ID, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		if m >= uid {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("INBOX indexed through %d after 10 s, want %d", m, uid)
		}
	}
}

func attachmentMsg(subject, word string) string {
	return "From: Carol <carol@example.org>\r\nSubject: " + subject + "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nplease read the attachment\r\n" +
		"--x\r\nContent-Type: application/rtf; name=\"notes.rtf\"\r\n\r\n{\\rtf1\\ansi " + word + " minutes}\r\n--x--\r\n"
}

// TestSearchThroughIndex: text criteria go through the index, words in
// attachments match, messages the index does not hold yet are still
// found, and a failing index only makes SEARCH read every message.
func TestSearchThroughIndex(t *testing.T) {
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e, idx, conv := indexedEnv(t, name)
			st := e.st
			e.deliver(testMsg("alpha report"))
			e.deliver(attachmentMsg("beta", "Zeppelin"))
			e.deliver(testMsg("gamma zeppelin sighting"))
			waitIndexed(t, e, idx, 3)
			c := e.login()
			c.ok("SELECT INBOX")

			search := func(keys, want string) {
				t.Helper()
				got := c.ok("UID SEARCH %s", keys)
				if len(got) != 1 || got[0] != "* SEARCH"+want {
					t.Errorf("UID SEARCH %s: %q, want %q", keys, got, "* SEARCH"+want)
				}
			}
			search("BODY zeppelin", " 2 3") // 2 by its attachment
			search("TEXT NOTES.RTF", " 2")  // the part's MIME header is header text
			search("OR SUBJECT alpha BODY minutes", " 1 2")
			search("SUBJECT beta BODY zeppelin", " 2")
			search("NOT BODY zeppelin", " 1")
			if idx.queries == 0 {
				t.Fatal("SEARCH never asked the index")
			}
			// The index narrows: a message it does not return is not read.
			idx.set(func(x *spyIndex) { x.hide = 3 })
			search("BODY zeppelin", " 2")
			idx.set(func(x *spyIndex) { x.hide = 0 })

			// A message above the mark is a candidate without the index.
			svc2 := indexer.New(indexer.Options{Store: st, Index: idx, Converter: conv, Deferred: true}) // not running
			st.SetIndexHook(svc2)
			e.deliver(attachmentMsg("delta", "zeppelin"))
			if m, _ := idx.Indexed(ctx, e.user.ID, mustInbox(t, st, e.user).ID); m != 3 {
				t.Fatalf("mark %d; the fourth message must not be indexed yet", m)
			}
			c.ok("NOOP")
			search("BODY zeppelin", " 2 3 4")
			// An AND of exact keys, asked as one conjunction: the message
			// above the mark is read and evaluated.
			idx.set(func(x *spyIndex) { x.conj = 0 })
			search("BODY zeppelin TEXT zeppelin", " 2 3 4")
			search("SUBJECT delta BODY zeppelin", " 4")
			search("SUBJECT gamma BODY zeppelin", " 3")
			idx.set(func(x *spyIndex) {
				if x.conj != 3 {
					t.Errorf("%d conjunctions asked, want 3", x.conj)
				}
			})
			got := c.ok("UID SORT (SUBJECT) UTF-8 BODY zeppelin")
			if len(got) != 1 || got[0] != "* SORT 2 4 3" {
				t.Errorf("SORT: %q", got)
			}
			// 3 has the oldest sent date (a Date: field); 2 and 4 have none.
			got = c.ok("UID THREAD ORDEREDSUBJECT UTF-8 TEXT zeppelin")
			if len(got) != 1 || got[0] != "* THREAD (3)(2)(4)" {
				t.Errorf("THREAD: %q", got)
			}
			got = c.ok("UID SEARCH RETURN (COUNT MIN) BODY zeppelin")
			if len(got) != 1 || !strings.Contains(got[0], "MIN 2 COUNT 3") {
				t.Errorf("ESEARCH: %q", got)
			}

			// An index that fails: the same answers, from every message.
			idx.set(func(x *spyIndex) { x.fail = true })
			search("BODY zeppelin", " 2 3 4")
			search("BODY sighting", " 3")
		})
	}
}

func mustInbox(t *testing.T, st *store.Store, u store.User) store.Mailbox {
	t.Helper()
	mb, err := st.Mailbox(context.Background(), u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	return mb
}

// TestIndexAnswersEqualReading: for programs mixing text keys (answered
// by the index, alone or under AND, OR and NOT) with others, the answer
// through the index equals the answer from reading every message.
func TestIndexAnswersEqualReading(t *testing.T) {
	e, idx, _ := indexedEnv(t, "embedded")
	words := []string{"amber", "basil", "cedar", "delta", "ember"}
	for i := range 12 {
		body := words[i%5] + " and " + words[(i*3+1)%5]
		if i%4 == 0 {
			e.deliver(attachmentMsg("note "+words[i%5], words[(i+2)%5]))
		} else {
			e.deliver(testMsg(fmt.Sprintf("subject %d %s", i, words[(i+1)%5])) + body + "\r\n")
		}
	}
	waitIndexed(t, e, idx, 12)
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok("STORE 2,5,7 +FLAGS (\\Seen)")
	c.ok("STORE 3 +FLAGS (\\Deleted)")
	programs := []string{
		"BODY amber", "NOT BODY amber", "TEXT basil", "SUBJECT cedar", "FROM alice", "TO bob",
		"OR BODY amber SUBJECT delta", "NOT OR BODY amber TEXT basil", "BODY amber NOT SUBJECT ember",
		"ALL BODY cedar", "OR NOT BODY amber BODY delta", "SEEN BODY amber", "UNSEEN NOT TEXT ember",
		"UID 1:6 BODY delta", "2:9 TEXT cedar", "HEADER Subject basil", "OR DELETED BODY ember",
		"BODY am", "TEXT \"and delta\"", "BODY \"ember and\" NOT FROM carol",
		// ANDs of exact keys only: one conjunction.
		"BODY amber TEXT basil", "SUBJECT cedar BODY delta FROM alice", "BODY amber BODY and", "BODY amber BODY am",
	}
	answer := func(p string) string {
		t.Helper()
		got := c.ok("UID SEARCH %s", p)
		return strings.Join(got, "\n")
	}
	with := map[string]string{}
	for _, p := range programs {
		with[p] = answer(p)
	}
	idx.set(func(x *spyIndex) { x.fail = true })
	for _, p := range programs {
		if without := answer(p); without != with[p] {
			t.Errorf("%s: through the index %q, reading every message %q", p, with[p], without)
		}
	}
}

// TestPureHits holds pureHits' walk of the view and the set to the
// plain reading: the view's UIDs up to the mark, not pending expunge,
// whose membership in the set is not comp.
func TestPureHits(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 1))
	for round := range 200 {
		s := &selected{gone: map[mail.UID]bool{}}
		set := roaring.New()
		u := mail.UID(0)
		for range rng.IntN(60) {
			u += mail.UID(1 + rng.IntN(3))
			s.uids = append(s.uids, u)
			if rng.IntN(8) == 0 {
				s.gone[u] = true
			}
		}
		for range rng.IntN(80) {
			set.Add(uint32(1 + rng.IntN(int(u)+5))) // some not in the view
		}
		mark := mail.UID(rng.IntN(int(u) + 3))
		comp := rng.IntN(2) == 0
		c := &conn{sel: s}
		var want []hit
		for i, v := range s.uids {
			if v <= mark && set.Contains(uint32(v)) != comp && !s.gone[v] {
				want = append(want, hit{seq: uint32(i + 1), uid: v})
			}
		}
		if got := c.pureHits(set, comp, mark); !slices.Equal(got, want) {
			t.Fatalf("round %d: view %v, gone %v, set %v, mark %d, comp %v:\n got %v\nwant %v", round, s.uids, s.gone, set.ToArray(), mark, comp, got, want)
		}
	}
}
