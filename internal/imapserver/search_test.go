package imapserver

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// searchMsgs are delivered in order as 1..5.
var searchMsgs = []string{
	"From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.org>\r\nTo: bob@example.org\r\nSubject: =?UTF-8?B?w6l0w6kgcGxhbnM=?=\r\nDate: Mon, 2 Feb 2026 10:00:00 +0000\r\nMessage-ID: <a@x>\r\n\r\nLet us go to the seaside.\r\n",
	"From: carol@example.org\r\nTo: bob@example.org\r\nCc: dave@example.org\r\nSubject: Re: été plans\r\nDate: Tue, 3 Feb 2026 09:00:00 +0100\r\nMessage-ID: <b@x>\r\nIn-Reply-To: <a@x>\r\nX-Priority: 1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nD=E9j=E0 r=E9serv=E9.\r\n",
	"From: bob@example.org\r\nTo: andre@example.org\r\nSubject: Invoice\r\nDate: Wed, 4 Feb 2026 08:00:00 +0000\r\nMessage-ID: <c@x>\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n--zz\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nThe secret word is pelican.\r\n--zz\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n0J/RgNC40LLQtdGCINC80LjRgA==\r\n--zz--\r\n",
	"From: dave@example.org\r\nTo: carol@example.org\r\nSubject: Re: Re: [list] été plans (fwd)\r\nDate: Thu, 5 Feb 2026 08:00:00 +0000\r\nMessage-ID: <d@x>\r\nReferences: <a@x> <b@x>\r\n\r\nBig message " + strings.Repeat("x", 3000) + "\r\n",
	"From: eve@example.org\r\nTo: bob@example.org\r\nSubject: Lunch\r\nDate: Sun, 1 Feb 2026 12:00:00 +0000\r\nMessage-ID: <e@x>\r\nReferences: <missing@x>\r\n\r\nSandwiches?\r\n",
}

func TestSearch(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, m := range searchMsgs {
			e.deliver(m)
		}
		c := e.login()
		c.ok("SELECT INBOX")
		c.ok("STORE 2 +FLAGS (\\Seen \\Flagged)")
		c.ok("STORE 4 +FLAGS (\\Deleted $Work)")
		for _, tc := range []struct{ q, want string }{
			{"ALL", "* SEARCH 1 2 3 4 5"},
			{"SEEN", "* SEARCH 2"},
			{"UNSEEN FLAGGED", "* SEARCH"},
			{"OR FLAGGED DELETED", "* SEARCH 2 4"},
			{"NOT DELETED NOT SEEN", "* SEARCH 1 3 5"},
			{"KEYWORD $work", "* SEARCH 4"},
			{"UNKEYWORD $Work 2:4", "* SEARCH 2 3"},
			{`SUBJECT "ÉTÉ"`, "* SEARCH 1 2 4"},
			{`FROM "andré"`, "* SEARCH 1"},
			{"FROM ANDRE@EXAMPLE", "* SEARCH 1"},
			{"TO andre", "* SEARCH 3"},
			{"CC dave", "* SEARCH 2"},
			{"HEADER X-Priority 1", "* SEARCH 2"},
			{"HEADER X-Priority \"\"", "* SEARCH 2"},
			{`BODY "déjà"`, "* SEARCH 2"},
			{"BODY PELICAN", "* SEARCH 3"},
			{`BODY "привет"`, "* SEARCH 3"},
			{"TEXT invoice", "* SEARCH 3"},
			{"BODY invoice", "* SEARCH"},
			{"LARGER 2000", "* SEARCH 4"},
			{"SMALLER 300", "* SEARCH 1 5"},
			{"SENTBEFORE 3-Feb-2026", "* SEARCH 1 5"},
			{"SENTON 3-Feb-2026", "* SEARCH 2"},
			{"SENTSINCE 4-Feb-2026", "* SEARCH 3 4"},
			{"SINCE 1-Jan-2020 BEFORE 1-Jan-2100", "* SEARCH 1 2 3 4 5"},
			{"ON 1-Jan-2020", "* SEARCH"},
			{"YOUNGER 3600", "* SEARCH 1 2 3 4 5"},
			{"OLDER 3600", "* SEARCH"},
			{"2:* NOT 4", "* SEARCH 2 3 5"},
			{"UID 3:*", "* SEARCH 3 4 5"},
			{"SAVEDSINCE 1-Jan-2020", "* SEARCH 1 2 3 4 5"},
			{"CHARSET UTF-8 (SUBJECT plans) (NOT FROM carol)", "* SEARCH 1 4"},
		} {
			lines := c.ok("SEARCH %s", tc.q)
			if len(lines) != 1 || strings.TrimSpace(lines[0]) != tc.want {
				t.Errorf("SEARCH %s = %q, want %q", tc.q, lines, tc.want)
			}
		}
		c.expect("NO [BADCHARSET", "SEARCH CHARSET KOI8-R ALL")
		has(t, c.ok("UID SEARCH SUBJECT plans"), "* SEARCH 1 2 4")
		// MODSEQ (RFC 7162 3.1.5).
		has(t, c.ok("SEARCH MODSEQ 1"), "* SEARCH 1 2 3 4 5 (MODSEQ ")
		// ESEARCH and SEARCHRES.
		has(t, c.ok("SEARCH RETURN (MIN MAX COUNT) SUBJECT plans"), `* ESEARCH (TAG "`, " MIN 1 MAX 4 COUNT 3")
		has(t, c.ok("UID SEARCH RETURN () UNSEEN"), " UID ALL 1,3:5")
		has(t, c.ok("SEARCH RETURN (COUNT) SUBJECT nothing"), " COUNT 0")
		if lines := c.ok("SEARCH RETURN (SAVE) SUBJECT plans"); len(lines) != 0 {
			t.Fatalf("SAVE alone answered %q", lines)
		}
		has(t, c.ok("FETCH $ (UID)"), "* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)")
		has(t, c.ok("SEARCH $ SEEN"), "* SEARCH 2")
		has(t, c.ok("UID SEARCH UID $"), "* SEARCH 1 2 4")
		c.ok("ENABLE IMAP4rev2")
		has(t, c.ok("SEARCH FLAGGED"), `* ESEARCH (TAG "`, "ALL 2")
	})
}

func TestSortThreadPreview(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, m := range searchMsgs {
			e.deliver(m)
		}
		c := e.login()
		c.ok("SELECT INBOX")
		for _, tc := range []struct{ q, want string }{
			{"(DATE) UTF-8 ALL", "* SORT 5 1 2 3 4"},
			{"(REVERSE DATE) UTF-8 ALL", "* SORT 4 3 2 1 5"},
			{"(SUBJECT) UTF-8 ALL", "* SORT 3 5 1 2 4"}, // i;ascii-casemap: É after ASCII,
			{"(FROM) UTF-8 ALL", "* SORT 1 3 2 4 5"},
			{"(SIZE) UTF-8 ALL", "* SORT 5 1 2 3 4"},
			{"(CC DATE) UTF-8 ALL", "* SORT 5 1 3 4 2"},
			{"(DISPLAYFROM) US-ASCII ALL", "* SORT 1 3 2 4 5"},
			{"(TO ARRIVAL) UTF-8 NOT TO carol", "* SORT 3 1 2 5"},
		} {
			lines := c.ok("SORT %s", tc.q)
			if len(lines) != 1 || lines[0] != tc.want {
				t.Errorf("SORT %s = %q, want %q", tc.q, lines, tc.want)
			}
		}
		has(t, c.ok("UID SORT (REVERSE SIZE) UTF-8 1:2"), "* SORT 2 1")
		// REFERENCES: 2 replies to 1, 4 to 2; 5 hangs off a missing
		// message and stays alone; 3 is its own thread.
		has(t, c.ok("THREAD REFERENCES UTF-8 ALL"), "* THREAD (5)(1 2 4)(3)")
		has(t, c.ok("THREAD ORDEREDSUBJECT UTF-8 ALL"), "* THREAD (5)(1 (2)(4))(3)")
		has(t, c.ok("UID THREAD REFERENCES UTF-8 NOT UID 2"), "* THREAD (5)(1 4)(3)")
		c.expect("BAD", "THREAD X-FOO UTF-8 ALL")
		has(t, c.ok("FETCH 2 PREVIEW"), "* 2 FETCH (PREVIEW {17}\r\nDéjà réservé.)")
		has(t, c.ok("FETCH 3 (PREVIEW (LAZY))"), `PREVIEW "See attached."`)
	})
}

// TestSearchTextInBatches: a program that reads message text matches its
// candidates in batches on several goroutines (search.go, matchAll); the
// answer is the same, in order, across batch boundaries.
func TestSearchTextInBatches(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		var hits, misses []string
		for i := 1; i <= 150; i++ {
			body := "beta alpha gamma"
			if i%3 == 0 || i == 64 || i == 65 {
				body = "gamma alpha beta"
				hits = append(hits, strconv.Itoa(i))
			} else {
				misses = append(misses, strconv.Itoa(i))
			}
			e.deliver(fmt.Sprintf("From: a@example.org\r\nSubject: m%d\r\n\r\n%s\r\n", i, body))
		}
		c := e.login()
		c.ok("SELECT INBOX")
		for q, want := range map[string]string{
			`BODY "alpha beta"`:            "* SEARCH " + strings.Join(hits, " "),
			`NOT BODY "alpha beta"`:        "* SEARCH " + strings.Join(misses, " "),
			`TEXT "alpha beta" SUBJECT m6`: "* SEARCH 6 60 63 64 65 66 69", // m6, m60..m69
		} {
			lines := c.ok("SEARCH %s", q)
			if len(lines) != 1 || strings.TrimSpace(lines[0]) != want {
				t.Errorf("SEARCH %s = %q, want %q", q, lines, want)
			}
		}
	})
}

// TestSearchPhraseFilter: a phrase search keeps each message's phrase
// filter (search.Pairs) in the conversion cache, and a later phrase
// search does not read a message whose filter rules the phrase out. A
// one-word search does not ask the filter.
func TestSearchPhraseFilter(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for i, body := range []string{
			"the server meeting is at noon",
			"server notes, and a meeting",
			"Observer Meetings",
		} {
			// The cache outlives the test on a shared Cassandra, and
			// bodies are content-addressed: these are new each run.
			raw := func(n int64) string {
				return fmt.Sprintf("From: a@example.org\r\nSubject: s\r\nMessage-ID: <%d@x>\r\n\r\n%s\r\n", n, body)
			}
			n := time.Now().UnixNano()
			// The filter is a Bloom filter: on a text this short about 5 % of
			// Message-IDs make message 2's answer a false positive (allowed,
			// never wrong: the message is then read). The test wants one
			// that rules the phrase out, so it picks its Message-ID.
			for i == 1 && filterOf(t, raw(n)).MayContain("server meeting") {
				n++
			}
			e.deliver(raw(n))
		}
		c := e.login()
		c.ok("SELECT INBOX")
		if got := c.ok(`SEARCH BODY "server meeting"`); !slices.Equal(got, []string{"* SEARCH 1 3"}) {
			t.Fatalf("first phrase search: %q", got)
		}
		mb, err := e.st.Mailbox(ctx, e.user, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		var rows []store.MessageRow
		if err := e.st.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error { rows = append(rows, r); return nil }); err != nil || len(rows) != 3 {
			t.Fatalf("rows: %d, %v", len(rows), err)
		}
		for _, r := range rows {
			kind, text, ok, err := e.st.GetText(ctx, search.PairsKey(string(r.Meta.Blob), convert.Version))
			if err != nil || !ok || kind != search.PairsKind {
				t.Fatalf("message %d: no phrase filter kept (%q, %v, %v)", r.UID, kind, ok, err)
			}
			if got := search.Pairs(text).MayContain("server meeting"); got != (r.UID != 2) {
				t.Errorf("message %d: filter says %v for the phrase", r.UID, got)
			}
		}
		// A filter that lies about message 1 shows that it is asked: the
		// message is not read for a phrase, but is for a single word.
		lie := string(search.BuildPairs("nothing of the sort"))
		if err := e.st.PutText(ctx, search.PairsKey(string(rows[0].Meta.Blob), convert.Version), search.PairsKind, lie); err != nil {
			t.Fatal(err)
		}
		// This server keeps the filters it read in memory
		// (imap.phrase_filter_cache), and does not read the lie.
		if got := c.ok(`SEARCH BODY "server meeting"`); !slices.Equal(got, []string{"* SEARCH 1 3"}) {
			t.Errorf("phrase search with the filters in memory: %q", got)
		}
		// A server without them reads the conversion cache's.
		o := e.srv.opts
		o.PhraseFilterCache = 0
		other := *e
		other.srv = New(o)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		other.addr = ln.Addr().String()
		go other.srv.Serve(ln)
		defer other.srv.Close()
		c = other.login()
		c.ok("SELECT INBOX")
		if got := c.ok(`SEARCH BODY "server meeting"`); !slices.Equal(got, []string{"* SEARCH 3"}) {
			t.Errorf("phrase search with message 1 ruled out: %q", got)
		}
		if got := c.ok(`SEARCH BODY server`); !slices.Equal(got, []string{"* SEARCH 1 2 3"}) {
			t.Errorf("one word: %q", got)
		}
	})
}

// filterOf is the phrase filter the server builds for raw (pairs.go),
// without attachments.
func filterOf(t *testing.T, raw string) search.Pairs {
	t.Helper()
	root, err := message.Scan(strings.NewReader(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := strings.NewReader(raw)
	return search.BuildPairs(convert.SearchHeader(r, root), convert.SearchBody(r, root), "")
}
