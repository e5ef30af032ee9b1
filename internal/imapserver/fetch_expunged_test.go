package imapserver

import (
	"slices"
	"strconv"
	"testing"
)

// A message another session expunged keeps its sequence number until the
// expunge is announced, and FETCH still returns its data, as Dovecot does
// (RFC 2180 4.1.1): FLAGS as they were when it was expunged, the body from
// its (immutable) blob. STORE on it changes nothing and answers OK (RFC
// 2180 4.2.1). A UID command then announces the expunge.
func TestFetchExpungedElsewhere(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, s := range []string{"one", "two", "three"} {
			e.deliver(testMsg(s))
		}
		a, b := e.login(), e.login()
		a.ok("SELECT INBOX")
		b.ok("SELECT INBOX")
		b.ok("STORE 2 +FLAGS.SILENT (\\Deleted \\Flagged)")
		b.ok("EXPUNGE")
		size := strconv.Itoa(len(testMsg("two")))
		steps := []struct {
			cmd, tagged string
			untagged    []string
		}{
			{"FETCH 2 (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])", "OK FETCH completed", []string{
				"* 2 FETCH (UID 2 RFC822.SIZE " + size + " BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: two\r\n\r\n)",
			}},
			{"FETCH 1:3 (UID FLAGS)", "OK FETCH completed", []string{
				`* 1 FETCH (UID 1 FLAGS (\Recent))`,
				`* 2 FETCH (UID 2 FLAGS (\Deleted \Flagged \Recent))`,
				`* 3 FETCH (UID 3 FLAGS (\Recent))`,
			}},
			{"STORE 2 +FLAGS (\\Seen)", "OK STORE completed", nil},
			{"FETCH 2 BODY[TEXT]", "OK FETCH completed", []string{ // not \Seen: nothing to set it on
				"* 2 FETCH (BODY[TEXT] {11}\r\nHello two\r\n)",
			}},
			{"FETCH 2 FLAGS", "OK FETCH completed", []string{`* 2 FETCH (FLAGS (\Deleted \Flagged \Recent))`}},
			// MODSEQs: 2-4 the deliveries, 5 b's STORE, 6 the expunge. The
			// flags held at 5; at 6 the message was gone.
			{"FETCH 2 (MODSEQ)", "OK FETCH completed", []string{
				"* OK [HIGHESTMODSEQ 6] CONDSTORE enabled",
				"* 2 FETCH (MODSEQ (5))",
			}},
			// A UID command may announce the expunge (RFC 9051 7.5.1).
			{"UID FETCH 2 BODY.PEEK[TEXT]", "OK FETCH completed", []string{
				"* 2 FETCH (UID 2 BODY[TEXT] {11}\r\nHello two\r\n)",
				"* 2 EXPUNGE",
			}},
			{"NOOP", "OK NOOP completed", nil},
			{"FETCH 2 UID", "OK FETCH completed", []string{"* 2 FETCH (UID 3)"}},
		}
		for _, st := range steps {
			got := a.do("%s", st.cmd)
			if got != st.tagged || !slices.Equal(a.Last, st.untagged) {
				t.Fatalf("%s:\n got %q %q\nwant %q %q", st.cmd, a.Last, got, st.untagged, st.tagged)
			}
		}
	})
}
