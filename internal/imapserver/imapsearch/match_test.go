package imapsearch

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
)

const raw1 = `Date: Mon, 02 Jan 2006 23:30:00 -0700
From: =?UTF-8?B?Wm/DqyDDhWxhbmRlcg==?= <alice@example.org>
To: Bob <bob@example.com>
Cc: carol@example.net
Subject: =?ISO-8859-1?Q?Caf=E9_cr=E8me?=
Message-ID: <m1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Hello world, l'=C3=A9t=C3=A9 est l=C3=A0, a soft=
 break.
`

const raw2 = `From: Dave <dave@example.com>
To: alice@example.org
Subject: Re: [fwd: Hello]
X-Spam: yes
X-Empty:
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=windows-1252
Content-Transfer-Encoding: base64

UHJpY2U6IDUggCBvbmx5LCBjYWbp
--alt
Content-Type: text/html; charset=utf-8

<html><head><style>p { color: red }</style></head><body><p>Some <b>bold</b> text</p><p>caf&eacute;&nbsp;au&nbsp;lait</p><script>var hidden = "scriptword";</script></body></html>
--alt--
`

const raw3 = "Date: Tue, 03 Jan 2006 00:00:00 +0000\n" +
	"From: Erin <erin@example.jp>\n" +
	"To: alice@example.org\n" +
	"Subject: Mixed\n" +
	"MIME-Version: 1.0\n" +
	"Content-Type: multipart/mixed; boundary=\"mix\"\n" +
	"\n" +
	"--mix\n" +
	"Content-Type: text/plain; charset=ISO-2022-JP\n" +
	"\n" +
	"\x1b$BF|K\\8l$N%F%-%9%H\x1b(B\n" +
	"--mix\n" +
	"Content-Type: application/octet-stream; name=blob.bin\n" +
	"Content-Transfer-Encoding: base64\n" +
	"\n" +
	"c2VjcmV0d29yZCBpbnNpZGU=\n" +
	"--mix\n" +
	"Content-Type: message/rfc822\n" +
	"\n" +
	"From: inner@example.cn\n" +
	"Subject: Inner\n" +
	"Content-Type: text/plain; charset=GB18030\n" +
	"Content-Transfer-Encoding: base64\n" +
	"\n" +
	"1tDOxMTayN0=\n" +
	"--mix--\n"

const raw4 = "Date: garbage\n" +
	"From: frank@example.com\n" +
	"To: undisclosed-recipients:;\n" +
	"Bcc: secret-bcc@example.com\n" +
	"Subject: plain\n" +
	"Content-Type: text/plain; charset=iso-8859-1\n" +
	"Content-Transfer-Encoding: 8bit\n" +
	"\n" +
	"Un \xe9t\xe9 chaud.\n"

// mailbox returns four messages with distinct flags, dates and texts.
func mailbox(t *testing.T) []*testMsg {
	m1, m2, m3, m4 := newMsg(t, 1, raw1), newMsg(t, 2, raw2), newMsg(t, 3, raw3), newMsg(t, 4, raw4)
	m1.flags = mail.NewFlags(`\Seen`, `\Answered`, "$Important")
	m2.flags = mail.NewFlags(`\Seen`, `\Flagged`, `\Draft`)
	m3.flags = mail.NewFlags(`\Deleted`)
	m2.recent, m3.recent = true, true
	m1.modSeq, m2.modSeq, m3.modSeq, m4.modSeq = 10, 20, 30, 5
	m1.size, m2.size, m3.size, m4.size = 500, 1500, 2500, 3500
	m1.emailID, m2.emailID, m3.emailID, m4.emailID = "M1", "M2", "M3", "M4"
	m1.thrID, m2.thrID, m3.thrID, m4.thrID = "T1", "T2", "T2", "T4"
	utc := time.UTC
	m1.internal = date(2006, 1, 3, 6, 30, 0, utc)
	m2.internal = date(2006, 1, 4, 0, 0, 0, utc)
	m3.internal = date(2006, 1, 3, 23, 59, 59, utc)
	m4.internal = date(2006, 1, 10, 0, 0, 0, utc)
	m1.saved = date(2006, 1, 5, 12, 0, 0, utc)
	m3.saved = date(2006, 1, 6, 0, 0, 0, utc)
	m4.saved = date(2006, 1, 10, 0, 0, 0, utc)
	return []*testMsg{m1, m2, m3, m4}
}

func testContext() Context {
	return Context{
		MaxSeq: 4, MaxUID: 40,
		Saved: func(seq uint32, uid mail.UID) bool { return seq == 2 || uid == 40 },
		Now:   func() time.Time { return date(2006, 1, 10, 12, 0, 0, time.UTC) },
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		keys string
		want []uint32
	}{
		{"ALL", []uint32{1, 2, 3, 4}},
		{"SEEN", []uint32{1, 2}},
		{"UNSEEN", []uint32{3, 4}},
		{"ANSWERED", []uint32{1}},
		{"UNANSWERED", []uint32{2, 3, 4}},
		{"FLAGGED", []uint32{2}},
		{"UNFLAGGED", []uint32{1, 3, 4}},
		{"DRAFT", []uint32{2}},
		{"UNDRAFT", []uint32{1, 3, 4}},
		{"DELETED", []uint32{3}},
		{"UNDELETED", []uint32{1, 2, 4}},
		{"KEYWORD $important", []uint32{1}},
		{"UNKEYWORD $Important", []uint32{2, 3, 4}},
		{"RECENT", []uint32{2, 3}},
		{"NEW", []uint32{3}},
		{"OLD", []uint32{1, 4}},
		// Sequence sets, "*" and "$".
		{"1:2", []uint32{1, 2}},
		{"3:*", []uint32{3, 4}},
		{"*", []uint32{4}},
		{"*:3", []uint32{3, 4}},
		{"2,4:3", []uint32{2, 3, 4}},
		{"$", []uint32{2, 4}},
		{"UID 20:30", []uint32{2, 3}},
		{"UID *", []uint32{4}},
		{"UID 25:*", []uint32{3, 4}},
		{"UID $", []uint32{2, 4}},
		{"NOT $", []uint32{1, 3}},
		// Sizes, mod-sequences, object IDs.
		{"LARGER 1500", []uint32{3, 4}},
		{"SMALLER 1500", []uint32{1}},
		{"MODSEQ 20", []uint32{2, 3}},
		{`MODSEQ "/flags/\\seen" all 21`, []uint32{3}},
		{"EMAILID M1", []uint32{1}},
		{"THREADID T2", []uint32{2, 3}},
		{"EMAILID M9", nil},
		// Internal dates, at day boundaries.
		{"ON 3-Jan-2006", []uint32{1, 3}},
		{"BEFORE 4-Jan-2006", []uint32{1, 3}},
		{"SINCE 4-Jan-2006", []uint32{2, 4}},
		{"BEFORE 3-Jan-2006", nil},
		{"SINCE 11-Jan-2006", nil},
		{`ON "10-Jan-2006"`, []uint32{4}},
		// Sent dates: the Date: field's own day; the internal date without one.
		{"SENTON 2-Jan-2006", []uint32{1}},
		{"SENTBEFORE 3-Jan-2006", []uint32{1}},
		{"SENTSINCE 3-Jan-2006", []uint32{2, 3, 4}},
		{"SENTON 3-Jan-2006", []uint32{3}},
		{"SENTON 4-Jan-2006", []uint32{2}},
		{"SENTON 10-Jan-2006", []uint32{4}},
		// Save dates; message 2 has none and uses its internal date.
		{"SAVEDON 4-Jan-2006", []uint32{2}},
		{"SAVEDSINCE 6-Jan-2006", []uint32{3, 4}},
		{"SAVEDBEFORE 5-Jan-2006", []uint32{2}},
		{"SAVEDATESUPPORTED", []uint32{1, 2, 3, 4}},
		// RFC 5032, with now 10-Jan-2006 12:00 UTC.
		{"YOUNGER 86400", []uint32{4}},
		{"OLDER 86400", []uint32{1, 2, 3}},
		{"YOUNGER 43200", nil},
		{"OLDER 43200", []uint32{1, 2, 3, 4}},
		// Envelope text, decoded, case-insensitive.
		{"SUBJECT \"café\"", []uint32{1}},
		{`SUBJECT "CAFÉ CRÈME"`, []uint32{1}},
		{"SUBJECT hello", []uint32{2}},
		{"SUBJECT re:", []uint32{2}},
		{`SUBJECT ""`, []uint32{1, 2, 3, 4}},
		{"FROM \"zoË\"", []uint32{1}},
		{"FROM alice@example.org", []uint32{1}},
		{"FROM example.com", []uint32{2, 4}},
		{"TO bob", []uint32{1}},
		{"TO alice", []uint32{2, 3}},
		{"TO undisclosed", []uint32{4}},
		{"CC carol", []uint32{1}},
		{"BCC secret-bcc", []uint32{4}},
		{"BCC bob", nil},
		// HEADER: decoded values; "" matches the field's presence.
		{"HEADER X-Spam yes", []uint32{2}},
		{`HEADER x-spam ""`, []uint32{2}},
		{`HEADER X-Empty ""`, []uint32{2}},
		{`HEADER X-Missing ""`, nil},
		{"HEADER Subject \"crème\"", []uint32{1}},
		{"HEADER Message-ID <m1@", []uint32{1}},
		// BODY: decoded text of text parts, nested messages included.
		{"BODY \"été\"", []uint32{1, 4}},
		{"BODY \"ÉTÉ\"", []uint32{1, 4}},
		{`BODY "soft break"`, []uint32{1}},
		{"BODY \"€\"", []uint32{2}},
		{"BODY \"CAFÉ\"", []uint32{2}},
		{`BODY "bold text"`, []uint32{2}},
		{`BODY "café au lait"`, []uint32{2}},
		{"BODY <b>", nil},
		{"BODY scriptword", nil},
		{"BODY color", nil},
		{"BODY \"日本語\"", []uint32{3}},
		{"BODY \"中文内容\"", []uint32{3}},
		{"BODY Inner", []uint32{3}},
		{"BODY secretword", nil},
		{"BODY X-Spam", nil},
		// TEXT: header and body.
		{"TEXT X-Spam", []uint32{2}},
		{"TEXT \"été\"", []uint32{1, 4}},
		{"TEXT \"zoë\"", []uint32{1}},
		{"TEXT chaud", []uint32{4}},
		{"TEXT blob.bin", []uint32{3}},
		{"BODY blob.bin", nil},
		{"TEXT multipart/alternative", []uint32{2}},
		// NOT, OR and parenthesized lists, nested.
		{"NOT SEEN", []uint32{3, 4}},
		{"NOT NOT 1", []uint32{1}},
		{"OR SEEN DELETED", []uint32{1, 2, 3}},
		{"NOT (OR SEEN DELETED)", []uint32{4}},
		{"OR (SEEN FLAGGED) NOT 1:3", []uint32{2, 4}},
		{"(SEEN UNSEEN)", nil},
		{"OR BODY \"été\" 2", []uint32{1, 2, 4}},
		{"SEEN BODY \"été\"", []uint32{1}},
		{"OR OR 1 2 OR 3 NOT ALL", []uint32{1, 2, 3}},
		{"NOT (NOT (OR (DELETED) (NOT SEEN)))", []uint32{3, 4}},
		{"UNSEEN SINCE 3-Jan-2006 NOT BODY \"été\"", []uint32{3}},
	}
	msgs := mailbox(t)
	c := testContext()
	for _, tt := range tests {
		key := program(t, tt.keys)
		var got []uint32
		for _, m := range msgs {
			ok, err := Match(key, m, c)
			if err != nil {
				t.Fatalf("%s on %d: %v", tt.keys, m.seq, err)
			}
			if ok {
				got = append(got, m.seq)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SEARCH %s = %v, want %v", tt.keys, got, tt.want)
		}
	}
}

func TestMatchBodyAccess(t *testing.T) {
	msgs := mailbox(t)
	c := testContext()
	m1 := msgs[0]
	// Cheap keys first: a failing flag spares the body.
	if ok, err := Match(program(t, "BODY \"été\" DELETED"), m1, c); ok || err != nil {
		t.Fatalf("got %v, %v", ok, err)
	}
	if ok, err := Match(program(t, "OR BODY zzz SEEN"), m1, c); !ok || err != nil {
		t.Fatalf("got %v, %v", ok, err)
	}
	if ok, err := Match(program(t, "SUBJECT \"café\" FROM alice SENTON 2-Jan-2006"), m1, c); !ok || err != nil {
		t.Fatalf("got %v, %v", ok, err)
	}
	if m1.bodyCalls != 0 {
		t.Errorf("body opened %d times for keys that do not need it", m1.bodyCalls)
	}
	// One program, one opening, whatever the number of text keys.
	if ok, err := Match(program(t, "BODY \"été\" TEXT \"Zoë\" HEADER Cc carol BODY world"), m1, c); !ok || err != nil {
		t.Fatalf("got %v, %v", ok, err)
	}
	if m1.bodyCalls != 1 {
		t.Errorf("body opened %d times, want 1", m1.bodyCalls)
	}
	// A body that cannot be read fails text keys only.
	m1.bodyErr = errBody
	if _, err := Match(program(t, "BODY x"), m1, c); err != errBody {
		t.Errorf("BODY with unreadable body: err %v", err)
	}
	if ok, err := Match(program(t, "SEEN SUBJECT \"café\""), m1, c); !ok || err != nil {
		t.Errorf("SEEN SUBJECT with unreadable body: %v, %v", ok, err)
	}
	if _, err := Match(program(t, "NOT HEADER Cc carol"), m1, c); err != errBody {
		t.Errorf("NOT HEADER with unreadable body: err %v", err)
	}
}

func TestMatchWithoutStructure(t *testing.T) {
	m := mailbox(t)[2]
	m.noStructure = true
	c := testContext()
	for _, keys := range []string{"SUBJECT mixed", "BODY \"中文内容\"", "SENTON 3-Jan-2006", "FROM erin"} {
		if ok, err := Match(program(t, keys), m, c); !ok || err != nil {
			t.Errorf("%s: %v, %v", keys, ok, err)
		}
	}
	m.bodyErr = errBody
	if _, err := Match(program(t, "SUBJECT mixed"), m, c); err != errBody {
		t.Errorf("no structure, no body: err %v", err)
	}
}

func TestMatchNilContext(t *testing.T) {
	m := mailbox(t)[1]
	m.internal = time.Now().Add(-time.Minute)
	for keys, want := range map[string]bool{"$": false, "UID $": false, "YOUNGER 3600": true, "OLDER 3600": false, "*": true} {
		ok, err := Match(program(t, keys), m, Context{MaxSeq: 2})
		if err != nil || ok != want {
			t.Errorf("%s with zero Context: %v, %v; want %v", keys, ok, err, want)
		}
	}
}

func TestMatchLocation(t *testing.T) {
	m := mailbox(t)[2] // internal 2006-01-03 23:59:59 UTC
	c := testContext()
	c.Location = time.FixedZone("+0100", 3600)
	if ok, _ := Match(program(t, "ON 4-Jan-2006"), m, c); !ok {
		t.Error("ON 4-Jan-2006 in +0100 does not match 23:59:59 UTC on the 3rd")
	}
}

func TestMatchMalformed(t *testing.T) {
	m := mailbox(t)[0]
	for _, k := range []*imapwireKey{{Name: "OR"}, {Name: "NOT"}, {Name: "FOO"}} {
		if _, err := Match(k, m, Context{}); err == nil {
			t.Errorf("%s: no error", k.Name)
		}
	}
	if _, err := Match(nil, m, Context{}); err == nil {
		t.Error("nil key: no error")
	}
}

func TestProgramPredicates(t *testing.T) {
	tests := []struct {
		keys                   string
		body, modseq, usesSave bool
	}{
		{"ALL", false, false, false},
		{"SUBJECT x FROM y", false, false, false},
		{"NOT (OR BODY x SEEN)", true, false, false},
		{"OR TEXT x 1", true, false, false},
		{"HEADER X-A b", true, false, false},
		{"NOT (1 MODSEQ 5)", false, true, false},
		{"OR $ UID 1", false, false, true},
		{"NOT UID $", false, false, true},
	}
	for _, tt := range tests {
		k := program(t, tt.keys)
		if NeedsBody(k) != tt.body || HasModSeq(k) != tt.modseq || UsesSaved(k) != tt.usesSave {
			t.Errorf("%s: NeedsBody %v HasModSeq %v UsesSaved %v", tt.keys, NeedsBody(k), HasModSeq(k), UsesSaved(k))
		}
	}
}

// TestMatchAttachments: BODY and TEXT find words in attachments through
// Context.Attachments, asked only when the text parts do not match.
func TestMatchAttachments(t *testing.T) {
	m := newMsg(t, 1, "Subject: report\nContent-Type: multipart/mixed; boundary=b\n\n"+
		"--b\nContent-Type: text/plain\n\nsee the attached file\n"+
		"--b\nContent-Type: application/octet-stream; name=r.bin\nContent-Transfer-Encoding: base64\n\nWkVQUEVMSU4gcXVhcnRlcmx5\n--b--\n")
	calls := 0
	c := testContext()
	c.Attachments = func(raw []byte, root *message.Part) string {
		calls++
		if root == nil || !strings.Contains(string(raw), "WkVQUEVMSU4") {
			t.Errorf("Attachments got root %v and %d bytes", root, len(raw))
		}
		return "r.bin\nZEPPELIN quarterly\n"
	}
	for _, tc := range []struct {
		keys  string
		want  bool
		calls int
	}{
		{"BODY attached", true, 0},       // the text part answers
		{"BODY zeppelin", true, 1},       // case-insensitive, from the attachment
		{"TEXT \"pelin quar\"", true, 1}, // TEXT too, across words
		{"BODY absent", false, 1},
		{"SUBJECT zeppelin", false, 0}, // only BODY and TEXT read attachments
	} {
		calls = 0
		got, err := Match(program(t, tc.keys), m, c)
		if err != nil || got != tc.want || calls != tc.calls {
			t.Errorf("%s: got %v, %v after %d calls; want %v after %d", tc.keys, got, err, calls, tc.want, tc.calls)
		}
	}
	// Without the hook, attachments are not searched.
	if got, _ := Match(program(t, "BODY zeppelin"), m, testContext()); got {
		t.Error("BODY matched an attachment without Context.Attachments")
	}
	// A message without attachments never asks.
	plain := newMsg(t, 2, "Subject: x\n\nplain text only\n")
	calls = 0
	if got, _ := Match(program(t, "BODY zeppelin"), plain, c); got || calls != 0 {
		t.Errorf("plain message: got %v after %d calls", got, calls)
	}
}
