package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// lines splits a transcript of untagged responses into the lines a
// benchkit.IMAPConn returns.
func lines(s string) [][]byte {
	var out [][]byte
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, []byte(strings.TrimSpace(l)))
	}
	return out
}

// syncOfSeven is client 18's INBOX sync in the failed make test run of
// 5ad2d3b (seed 1796526927698503498): the last view was the empty INBOX
// (MODSEQ 1); SELECT with QRESYNC found seven messages, UIDNEXT 8; before
// the FETCH 1:7 was answered, UIDs 8 to 11 were delivered and another
// session flagged UID 11, so the server's refresh before the tagged reply
// announced them (* 11 EXISTS) and reported UID 11's flag change.
const (
	syncOfSevenSelect = `
		* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
		* 7 EXISTS
		* OK [UIDVALIDITY 100] UIDs valid
		* OK [UIDNEXT 8] Predicted next UID
		* OK [HIGHESTMODSEQ 9] Highest mod-sequence
		* 1 FETCH (UID 1 FLAGS () MODSEQ (2))
		* 2 FETCH (UID 2 FLAGS () MODSEQ (3))
		* 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (9))
		* 4 FETCH (UID 4 FLAGS () MODSEQ (5))
		* 5 FETCH (UID 5 FLAGS () MODSEQ (6))
		* 6 FETCH (UID 6 FLAGS () MODSEQ (7))
		* 7 FETCH (UID 7 FLAGS () MODSEQ (8))`
	syncOfSevenAnswers = `
		* 1 FETCH (UID 1 FLAGS () MODSEQ (2))
		* 2 FETCH (UID 2 FLAGS () MODSEQ (3))
		* 3 FETCH (UID 3 FLAGS (\Seen) MODSEQ (9))
		* 4 FETCH (UID 4 FLAGS () MODSEQ (5))
		* 5 FETCH (UID 5 FLAGS () MODSEQ (6))
		* 6 FETCH (UID 6 FLAGS () MODSEQ (7))
		* 7 FETCH (UID 7 FLAGS () MODSEQ (8))`
)

func judge(t *testing.T, last *view, sel, fetch string) (*view, []string) {
	t.Helper()
	var bad []string
	v := judgeSync(18, "INBOX", last, parseSelect(lines(sel)), lines(fetch), func(format string, args ...any) {
		bad = append(bad, fmt.Sprintf(format, args...))
	})
	return v, bad
}

func uidsOf(v *view) []uint32 {
	var out []uint32
	for u := range v.flags {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}

// TestJudgeSyncUnsolicited: responses to the FETCH 1:n numbered above n
// are not its answers but unsolicited updates (RFC 9051 7.5.2, 5.2): a
// message announced during the FETCH is not one the SELECT counted. The
// checker took them for answers and reported three violations of a
// correct server.
func TestJudgeSyncUnsolicited(t *testing.T) {
	empty := &view{uidValidity: 100, uidNext: 1, modSeq: 1, flags: map[uint32]string{}}
	v, bad := judge(t, empty, syncOfSevenSelect, syncOfSevenAnswers+`
		* 11 EXISTS
		* 11 FETCH (UID 11 FLAGS (\Flagged) MODSEQ (14))`)
	if len(bad) != 0 {
		t.Fatalf("a correct sync judged broken:\n%s", strings.Join(bad, "\n"))
	}
	if got := uidsOf(v); !slices.Equal(got, []uint32{1, 2, 3, 4, 5, 6, 7}) || v.uidNext != 8 || v.modSeq != 9 || v.flags[3] != `\Seen` {
		t.Fatalf("view after the sync: UIDs %v, UIDNEXT %d, MODSEQ %d, flags of 3 %q; want 1 to 7, 8, 9, \\Seen", got, v.uidNext, v.modSeq, v.flags[3])
	}
	// An unsolicited flag change of a message of the view, after its
	// answer, is newer than the SELECT: it is neither a second message
	// nor a QRESYNC disagreement.
	if _, bad := judge(t, empty, syncOfSevenSelect, syncOfSevenAnswers+`
		* 3 FETCH (UID 3 FLAGS (\Flagged \Seen) MODSEQ (15))`); len(bad) != 0 {
		t.Fatalf("an unsolicited flag change judged broken:\n%s", strings.Join(bad, "\n"))
	}
}

// TestJudgeSyncCatches: the checker still fails a server that answers
// FETCH 1:n wrongly, unsolicited responses or not.
func TestJudgeSyncCatches(t *testing.T) {
	empty := &view{uidValidity: 100, uidNext: 1, modSeq: 1, flags: map[uint32]string{}}
	seven := strings.Split(strings.TrimSpace(syncOfSevenAnswers), "\n")
	for _, tc := range []struct {
		name, fetch, want string
	}{
		{"UID at UIDNEXT", strings.Join(seven[:6], "\n") + "\n* 7 FETCH (UID 8 FLAGS () MODSEQ (8))",
			"client 18: INBOX UID 8 not below UIDNEXT 8"},
		{"one answer short", strings.Join(seven[:6], "\n") + "\n* 8 EXISTS\n* 8 FETCH (UID 8 FLAGS () MODSEQ (10))",
			"client 18: INBOX has 7 EXISTS but FETCH 1:7 returned 6 messages"},
		{"descending", strings.Join(seven[:5], "\n") + "\n* 6 FETCH (UID 7 FLAGS () MODSEQ (8))\n* 7 FETCH (UID 6 FLAGS () MODSEQ (7))",
			"client 18: INBOX UIDs not ascending in sequence order: 6 after 7"},
		{"flags disagree", strings.Replace(syncOfSevenAnswers, `UID 3 FLAGS (\Seen)`, `UID 3 FLAGS ()`, 1),
			`client 18: INBOX UID 3: QRESYNC from MODSEQ 1 gives flags (\Seen), a full FETCH ()`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, bad := judge(t, empty, syncOfSevenSelect, tc.fetch)
			if !slices.Contains(bad, tc.want) {
				t.Fatalf("want %q among the violations, got:\n%s", tc.want, strings.Join(bad, "\n"))
			}
		})
	}
}
