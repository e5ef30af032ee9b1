package imapwire

import (
	"errors"
	"strings"
	"testing"
)

// TestReadCommandValid parses each command and compares its canonical form.
// An empty want means the input (without CRLF) is already canonical.
func TestReadCommandValid(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a1 CAPABILITY", ""},
		{"a1 noop", "a1 NOOP"},
		{"a LOGOUT", ""},
		{"a STARTTLS", ""},
		{"a IDLE", ""},
		{"a CLOSE", ""},
		{"a UNSELECT", ""},
		{"a EXPUNGE", ""},
		{"a UID EXPUNGE 1:3,7", ""},
		{"a NAMESPACE", ""},
		{"a AUTHENTICATE PLAIN", ""},
		{"a AUTHENTICATE plain AGZyZWQAc2VjcmV0", "a AUTHENTICATE PLAIN AGZyZWQAc2VjcmV0"},
		{"a AUTHENTICATE PLAIN =", ""},
		{`a LOGIN fred "se cr\"et"`, `a LOGIN fred "se cr\"et"`},
		{"a LOGIN {4+}\r\nfred {3+}\r\nabc", "a LOGIN fred abc"},
		{"a ENABLE CONDSTORE utf8=accept", "a ENABLE CONDSTORE UTF8=ACCEPT"},
		{"a SELECT inbox", "a SELECT INBOX"},
		{"a EXAMINE Archive (CONDSTORE)", ""},
		{"a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))", ""},
		{"a SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:10 100:120)))", ""},
		{"a SELECT INBOX (QRESYNC (1 2 (1 5)))", ""},
		{"a CREATE Sent (USE (\\Sent))", ""},
		{"a CREATE &ZeVnLIqe-", ""},
		{"a DELETE foo", ""},
		{"a RENAME foo bar", ""},
		{"a SUBSCRIBE foo", ""},
		{"a UNSUBSCRIBE \"a b\"", ""},
		{`a LIST "" *`, `a LIST "" ("*")`},
		{`a LIST "" %`, `a LIST "" ("%")`},
		{`a LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Drafts")`, `a LIST (SUBSCRIBED RECURSIVEMATCH) "" (INBOX Drafts)`},
		{`a LIST "" % RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))`, `a LIST "" ("%") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))`},
		{`a LIST () "" % RETURN ()`, `a LIST () "" ("%") RETURN ()`},
		{`a LSUB "" *`, `a LSUB "" "*"`},
		{"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT MAILBOXID)", ""},
		{"a SEARCH ALL", ""},
		{"a SEARCH CHARSET utf-8 TEXT {3+}\r\nxyz", "a SEARCH CHARSET UTF-8 TEXT xyz"},
		{"a UID SEARCH RETURN (MIN MAX COUNT SAVE) UNSEEN", ""},
		{"a SEARCH RETURN () 1:*", ""},
		{`a SEARCH OR (FROM fred SUBJECT "hi there") NOT SEEN`, ""},
		{`a SEARCH HEADER Message-ID <x@y> LARGER 100 SMALLER 5000 UID 1:*`, ""},
		{`a SEARCH SINCE 1-Feb-2024 BEFORE "01-Mar-2024" SENTON 5-Jan-2020`, `a SEARCH SINCE 1-Feb-2024 BEFORE 1-Mar-2024 SENTON 5-Jan-2020`},
		{`a SEARCH MODSEQ "/flags/\\draft" all 620162338`, `a SEARCH MODSEQ "/flags/\\draft" ALL 620162338`},
		{`a SEARCH MODSEQ 5`, ""},
		{`a SEARCH SAVEDBEFORE 1-Jan-2024 SAVEDATESUPPORTED YOUNGER 60 OLDER 10`, ""},
		{`a SEARCH EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9`, ""},
		{`a UID SEARCH UID $`, ""},
		{`a SEARCH $ KEYWORD $Forwarded NEW OLD RECENT DRAFT UNDRAFT`, ""},
		{"a FETCH 1:* ALL", ""},
		{"a FETCH 1 fast", "a FETCH 1 FAST"},
		{"a FETCH 2:4 FULL", ""},
		{"a FETCH 1 BODY[]", "a FETCH 1 (BODY[])"},
		{"a FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (From To)] BODY[1.2.TEXT]<0.1024> BODY[3.MIME] RFC822.SIZE)",
			"a FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO)] BODY[1.2.TEXT]<0.1024> BODY[3.MIME] RFC822.SIZE)"},
		{"a FETCH 1 (BODY[HEADER.FIELDS.NOT (Received)] BODY[TEXT] BODY[HEADER] BODY[2] BODY)",
			"a FETCH 1 (BODY[HEADER.FIELDS.NOT (RECEIVED)] BODY[TEXT] BODY[HEADER] BODY[2] BODY)"},
		{"a FETCH 1 (ENVELOPE INTERNALDATE RFC822 RFC822.HEADER RFC822.TEXT BODYSTRUCTURE UID)", ""},
		{"a FETCH 1 (BINARY[1] BINARY.PEEK[1.2]<5.10> BINARY.SIZE[] BINARY[])", ""},
		{"a FETCH 1 (MODSEQ PREVIEW SAVEDATE EMAILID THREADID)", ""},
		{"a FETCH 1 (PREVIEW (LAZY) FLAGS)", ""},
		{"a FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)", ""},
		{"a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)", ""},
		{"a STORE 1:3 +FLAGS (\\Seen)", ""},
		{"a STORE 1 -flags.silent \\Deleted $Junk", "a STORE 1 -FLAGS.SILENT (\\Deleted $Junk)"},
		{"a UID STORE 5 (UNCHANGEDSINCE 320162338) FLAGS.SILENT ()", ""},
		{"a COPY 2:4 MEETING", ""},
		{"a UID MOVE 42 Trash", ""},
		{"a MOVE $ Trash", ""},
		{"a SORT (REVERSE DATE SUBJECT) UTF-8 ALL", ""},
		{"a UID SORT (ARRIVAL) US-ASCII SINCE 1-Feb-1994", ""},
		{"a THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000", "a THREAD ORDEREDSUBJECT UTF-8 SINCE 5-Mar-2000"},
		{"a UID THREAD REFERENCES US-ASCII TEXT foo", ""},
		{"a GETQUOTA \"\"", ""},
		{"a GETQUOTAROOT INBOX", ""},
		{"a SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)", ""},
		{"a COMPRESS DEFLATE", ""},
		{`a ID ("name" "sodr" "version" NIL)`, ""},
		{`a ID NIL`, ""},
		{"a CHECK", ""},
	}
	for _, tt := range tests {
		cmd, err := readOne(t, tt.in+"\r\n")
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		want := tt.want
		if want == "" {
			want = tt.in
		}
		got := cmd.String()
		if got != want {
			t.Errorf("%q:\n got %q\nwant %q", tt.in, got, want)
			continue
		}
		again, err := readOne(t, got+"\r\n")
		if err != nil || again.String() != got {
			t.Errorf("%q: canonical form does not re-parse: %v %v", tt.in, again, err)
		}
	}
}

// TestReadCommandInvalid checks that each bad command gives a SyntaxError
// whose reason mentions what was expected.
func TestReadCommandInvalid(t *testing.T) {
	tests := []struct{ in, reason string }{
		{"", "expected tag"},
		{"+ NOOP", "expected tag"},
		{"a", "expected SP after tag"},
		{"a  NOOP", "expected command name"},
		{"a FROB", `unknown command "FROB"`},
		{"a UID FROB 1", `unknown UID command "FROB"`},
		{"a NOOP x", "expected CRLF"},
		{"a LOGIN fred", "expected SP before password"},
		{`a LOGIN "fred`, "unterminated quoted string"},
		{`a LOGIN "f\red" x`, "invalid escape"},
		{"a SELECT", "expected SP before mailbox name"},
		{"a SELECT INBOX (FOO)", `unknown SELECT parameter "FOO"`},
		{"a SELECT INBOX (QRESYNC (0 5))", "UIDVALIDITY must not be zero"},
		{"a SELECT INBOX (QRESYNC (1 0))", "mod-sequence must not be zero"},
		{"a CREATE foo (USE (Sent))", `expected '\\'`},
		{"a CREATE &Jjo", `without closing "-"`},
		{"a CREATE &AGE-", "printable US-ASCII must not be encoded"},
		{"a CREATE \"caf\xc3\xa9\"", "not printable US-ASCII"},
		{"a LIST (BOGUS) \"\" %", `unknown LIST selection option "BOGUS"`},
		{"a LIST (RECURSIVEMATCH) \"\" %", "RECURSIVEMATCH needs another"},
		{"a LIST \"\" % RETURN (FOO)", `unknown LIST return option "FOO"`},
		{"a STATUS INBOX (MESSAGES FOO)", `unknown status item "FOO"`},
		{"a STATUS INBOX ()", "empty status items"},
		{"a FETCH 1 (BODYX)", `unknown fetch attribute "BODYX"`},
		{"a FETCH 0 FLAGS", "expected nz-number"},
		{"a FETCH 1:2:3 FLAGS", "expected nz-number"},
		{"a FETCH 99999999999 FLAGS", "out of range"},
		{"a FETCH FLAGS", "expected sequence set"},
		{"a FETCH 1 BODY[HEADER.FIELDS]", "expected SP before header field list"},
		{"a FETCH 1 BODY[FOO]", `unknown section text "FOO"`},
		{"a FETCH 1 BODY[MIME]", "MIME section needs a part number"},
		{"a FETCH 1 BODY[]<0.0>", "partial length must not be zero"},
		{"a FETCH 1 BODY[]<0>", "in partial"},
		{"a FETCH 1 BODY.PEEK", "expected [ after BODY.PEEK"},
		{"a FETCH 1 BINARY[TEXT]", "only a part number"},
		{"a FETCH 1 (FLAGS", "expected SP or \")\" between fetch attributes"},
		{"a FETCH 1 FLAGS (CHANGEDSINCE 0)", "must not be zero"},
		{"a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)", "VANISHED needs UID FETCH"},
		{"a FETCH 1 FLAGS (FOO)", `unknown fetch modifier "FOO"`},
		{"a FETCH 1 (PREVIEW (FUZZY))", `unknown PREVIEW modifier "FUZZY"`},
		{"a STORE 1 FLAGZ (\\Seen)", "expected FLAGS, +FLAGS or -FLAGS"},
		{"a STORE 1 +FLAGS", "expected SP before flags"},
		{"a STORE 1 (UNCHANGEDSINCE x) FLAGS ()", "UNCHANGEDSINCE mod-sequence"},
		{"a SEARCH", "expected SP before search criteria"},
		{"a SEARCH FOO", `unknown search key "FOO"`},
		{"a SEARCH SINCE 32-Jan-2020", "no such day"},
		{"a SEARCH SINCE 1-Foo-2020", "expected month name"},
		{"a SEARCH SINCE 1-Jan-20", "year must have four digits"},
		{"a SEARCH OR SEEN", "expected SP between OR keys"},
		{"a SEARCH (SEEN", `expected SP or ")" between search keys`},
		{"a SEARCH MODSEQ \"/flags/x\" bogus 5", "expected MODSEQ entry type"},
		{"a SEARCH RETURN (FOO) ALL", `unknown search return option "FOO"`},
		{"a SEARCH " + strings.Repeat("NOT ", 100) + "ALL", "nested more than"},
		{"a SEARCH YOUNGER 0", "must not be zero"},
		{"a SORT (BOGUS) UTF-8 ALL", `unknown sort key "BOGUS"`},
		{"a SORT (DATE) ALL", "expected SP after charset"},
		{"a THREAD REFERENCES", "expected SP after thread algorithm"},
		{"a SETQUOTA \"\" (STORAGE)", "expected SP after quota resource name"},
		{"a ID (\"a\")", "expected SP after ID field name"},
		{"a APPEND INBOX", "expected SP after mailbox name"},
		{"a APPEND INBOX (\\Seen) \"1-Jan-2020 00:00:00 +0000\" x", "expected message literal"},
		{"a APPEND INBOX \"1-Jan-2020 25:00:00 +0000\" {1}", "time out of range"},
		{"a APPEND INBOX {5} x", "expected CRLF after literal size"},
		{"a ENABLE", "expected SP before capability"},
		{"a AUTHENTICATE", "expected SP before SASL mechanism"},
		{"a UID EXPUNGE", "expected SP before UID set"},
	}
	for _, tt := range tests {
		_, err := readOne(t, tt.in+"\r\n")
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want SyntaxError", tt.in, err)
			continue
		}
		if !strings.Contains(se.Reason, tt.reason) {
			t.Errorf("%q: reason %q does not mention %q", tt.in, se.Reason, tt.reason)
		}
	}
}

// TestRecoverAfterError checks that the command after a bad one is read.
func TestRecoverAfterError(t *testing.T) {
	in := "a FETCH 1 (BODYX) {3+}\r\nabc {2+}\r\nxy\r\nb NOOP\r\nc SELECT {3}\r\n"
	r, cont := newTestReader(in, Limits{})
	if _, err := r.ReadCommand(); err == nil {
		t.Fatal("want error")
	} else if se := (*SyntaxError)(nil); !errors.As(err, &se) || se.Tag != "a" || se.Command != "FETCH" {
		t.Fatalf("got %#v", err)
	}
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Tag != "b" || cmd.Name != "NOOP" {
		t.Fatalf("got %v %v", cmd, err)
	}
	// A synchronizing literal at EOF: the continuation is sent, then EOF.
	if _, err := r.ReadCommand(); err == nil || cont.n != 1 {
		t.Fatalf("got %v, %d continuations", err, cont.n)
	}
}
