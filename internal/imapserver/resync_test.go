package imapserver

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// trimLog trims the INBOX's change log to its head, as the purge does a
// history after it marked that head (store.LogTrimmer), and returns the
// floor.
func (e *env) trimLog() mail.ModSeq {
	e.t.Helper()
	ctx := context.Background()
	lt, ok := e.st.Backend().(store.LogTrimmer)
	if !ok {
		e.t.Fatalf("the backend %T does not trim its change log", e.st.Backend())
	}
	mb, err := e.st.Mailbox(ctx, e.user, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	h, err := e.st.Status(ctx, mb)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := lt.TrimLog(ctx, mb.ID, store.TrimRequest{Upto: h.ModSeq, Next: store.LogMark{ModSeq: h.ModSeq, At: time.Now()}}); err != nil {
		e.t.Fatalf("TrimLog: %v", err)
	}
	floor, err := e.st.LogFloor(ctx, mb)
	if err != nil {
		e.t.Fatal(err)
	}
	return floor
}

// replaced returns lines with the line old replaced by new (it must be
// there once).
func replaced(t *testing.T, lines []string, old, new string) []string {
	t.Helper()
	i := slices.Index(lines, old)
	if i < 0 || slices.Index(lines[i+1:], old) >= 0 {
		t.Fatalf("want %q once in:\n%s", old, strings.Join(lines, "\n"))
	}
	out := slices.Clone(lines)
	out[i] = new
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestResyncAfterLogTrim: clients whose MODSEQ predates the change log's
// history get a full answer (RFC 7162 3.2.5.2, 3.2.6), never a short one.
// Each response is compared whole with the one the same command got
// before the trim: SELECT (QRESYNC) and UID FETCH (CHANGEDSINCE VANISHED)
// name every UID no longer in the mailbox, the one expunged before the
// client's MODSEQ too (allowed: the client ignores UIDs it does not have),
// within the known UIDs and above the last good pair of the sequence
// match data; the FETCH lines are the same; and a session selected since
// before the floor is told on its next command exactly what a session
// told from the log was.
func TestResyncAfterLogTrim(t *testing.T) {
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			hub := notify.NewHub()
			// Cassandra trims whole buckets: 16 entries each here.
			st := store.New(backendtest.OpenBuckets(t, name, 16), store.Options{Publish: hub.Publish})
			testResyncAfterLogTrim(t, newEnv(t, st, hub, nil))
		})
	}
}

func testResyncAfterLogTrim(t *testing.T, e *env) {
	for i := 1; i <= 20; i++ {
		e.deliver(testMsg("m" + strconv.Itoa(i)))
	}
	o := e.login()
	o.ok("SELECT INBOX")
	o.ok("STORE 1 +FLAGS (\\Deleted)")
	o.ok("EXPUNGE") // UID 1, before the clients' MODSEQ
	// Two sessions selected at MODSEQ hms; one will refresh from the log,
	// the other after the trim.
	c1, c2 := e.login(), e.login()
	for _, c := range []*client{c1, c2} {
		c.ok("ENABLE QRESYNC IMAP4rev2")
	}
	sel := c1.ok("SELECT INBOX")
	c2.ok("SELECT INBOX")
	uv, hms := num(t, sel, "UIDVALIDITY"), num(t, sel, "HIGHESTMODSEQ")
	o.ok("STORE 2,4 +FLAGS (\\Deleted)") // UIDs 3 and 5
	o.ok("EXPUNGE")
	o.ok("UID STORE 7 +FLAGS ($Important)")
	for i := 21; i <= 40; i++ {
		e.deliver(testMsg("m" + strconv.Itoa(i)))
	}
	c := e.login()
	c.ok("ENABLE QRESYNC IMAP4rev2") // rev2: no \Recent, which the first SELECT would claim
	qresync := func(params string) []string {
		t.Helper()
		lines := c.ok("SELECT INBOX (QRESYNC (%d %d%s))", uv, hms, params)
		c.ok("UNSELECT")
		return lines
	}
	all, known, match := qresync(""), qresync(" 2:20"), qresync(" 1:20 (1:3 2:4)")
	c.ok("SELECT INBOX")
	fetch := c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", hms)
	fetchSome := c.ok("UID FETCH 1:10 (FLAGS) (CHANGEDSINCE %d VANISHED)", hms)
	c.ok("UNSELECT")
	told := c1.ok("NOOP")
	has(t, all, "* VANISHED (EARLIER) 3,5")
	has(t, told, "* VANISHED 3,5")

	if floor := e.trimLog(); floor <= mail.ModSeq(hms) {
		t.Fatalf("the trim left the floor at %d, not above the clients' MODSEQ %d", floor, hms)
	}
	sameLines(t, "QRESYNC without known UIDs", qresync(""), replaced(t, all, "* VANISHED (EARLIER) 3,5", "* VANISHED (EARLIER) 1,3,5"))
	sameLines(t, "QRESYNC with known UIDs 2:20", qresync(" 2:20"), known)
	// Message 3 of the client is no longer UID 4: only UIDs above 2 (the
	// last good pair) are candidates.
	sameLines(t, "QRESYNC with sequence match data", qresync(" 1:20 (1:3 2:4)"), match)
	c.ok("SELECT INBOX")
	sameLines(t, "UID FETCH 1:* CHANGEDSINCE VANISHED", c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)", hms),
		replaced(t, fetch, "* VANISHED (EARLIER) 3,5", "* VANISHED (EARLIER) 1,3,5"))
	sameLines(t, "UID FETCH 1:10 CHANGEDSINCE VANISHED", c.ok("UID FETCH 1:10 (FLAGS) (CHANGEDSINCE %d VANISHED)", hms),
		replaced(t, fetchSome, "* VANISHED (EARLIER) 3,5", "* VANISHED (EARLIER) 1,3,5"))
	sameLines(t, "a session selected before the floor, on its next command", c2.ok("NOOP"), told)
	// Both sessions go on from the log.
	o.ok("UID STORE 8 +FLAGS (\\Flagged)")
	for _, c := range []*client{c1, c2} {
		sameLines(t, "the next refresh", c.ok("NOOP"), []string{"* 5 FETCH (UID 8 FLAGS (\\Flagged) MODSEQ (" + strconv.FormatUint(num(t, c1.ok("STATUS INBOX (HIGHESTMODSEQ)"), "HIGHESTMODSEQ"), 10) + "))"})
	}
}

// TestAbsentUIDs: the UIDs VANISHED (EARLIER) names past the log's
// history, in compact form, for sets with "*", ranges beyond UIDNEXT and
// the lower bound of the sequence match data.
func TestAbsentUIDs(t *testing.T) {
	set := func(s string) *imapwire.SeqSet {
		ss, err := imapwire.ParseSeqSet(s)
		if err != nil {
			t.Fatalf("ParseSeqSet(%q): %v", s, err)
		}
		return &ss
	}
	live := []mail.UID{2, 4, 6, 7, 10}
	for _, tc := range []struct {
		set        *imapwire.SeqSet
		after, top mail.UID
		want       string
	}{
		{nil, 0, 10, "1,3,5,8:9"},
		{nil, 0, 12, "1,3,5,8:9,11:12"},
		{nil, 4, 10, "5,8:9"},
		{nil, 10, 10, ""},
		{nil, 0, 0, ""},
		{set("1:*"), 0, 12, "1,3,5,8:9,11:12"},
		{set("3:5,9,4000000000"), 0, 12, "3,5,9"},
		{set("*:8"), 0, 10, "8:9"},
		{set("2,4"), 0, 10, ""},
		{set("1:4294967295"), 2, 4294967295, "3,5,8:9,11:4294967295"},
	} {
		if got := absentUIDs(tc.set, tc.after, tc.top, live); got != tc.want {
			t.Errorf("absentUIDs(%v, %d, %d) = %q, want %q", tc.set, tc.after, tc.top, got, tc.want)
		}
	}
}
