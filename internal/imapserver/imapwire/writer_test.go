package imapwire

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
)

func writeWith(utf bool, f func(w *Writer)) string {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	w := NewWriter(bw)
	w.SetUTF8Accept(utf)
	f(w)
	w.Flush()
	return buf.String()
}

func TestWriterStrings(t *testing.T) {
	tests := []struct {
		utf  bool
		f    func(w *Writer)
		want string
	}{
		{false, func(w *Writer) { w.String(`a "b" \c`) }, `"a \"b\" \\c"`},
		{false, func(w *Writer) { w.String(`""\`) }, `"\"\"\\"`},
		{false, func(w *Writer) { w.String("") }, `""`},
		{false, func(w *Writer) { w.String("a\r\nb") }, "{4}\r\na\r\nb"},
		{false, func(w *Writer) { w.String("café") }, "{5}\r\ncafé"},
		{true, func(w *Writer) { w.String("café") }, `"café"`},
		{false, func(w *Writer) { w.String("a\x00b") }, "{5}\r\na\uFFFDb"},
		{false, func(w *Writer) { w.String(strings.Repeat("x", 2000)) }, "{2000}\r\n" + strings.Repeat("x", 2000)},
		{false, func(w *Writer) { w.NString("") }, "NIL"},
		{false, func(w *Writer) { w.AString("NIL") }, `"NIL"`},
		{false, func(w *Writer) { w.AString("") }, `""`},
		{false, func(w *Writer) { w.Mailbox("台北") }, "&U,BTFw-"},
		{false, func(w *Writer) { w.Mailbox("a b") }, `"a b"`},
		{true, func(w *Writer) { w.Mailbox("台北") }, `"台北"`},
		{false, func(w *Writer) { w.Flags(mail.NewFlags(`\seen`, "$Junk")) }, `($Junk \Seen)`},
		{false, func(w *Writer) { w.Status("a1", "OK", "READ-WRITE", "SELECT completed") }, "a1 OK [READ-WRITE] SELECT completed\r\n"},
		{false, func(w *Writer) { w.Status("", "BAD", "", "bad\r\nline") }, "* BAD bad  line\r\n"},
		{false, func(w *Writer) { w.Literal(3, strings.NewReader("a\x00b"), true) }, "~{3}\r\na\x00b"},
		{false, func(w *Writer) { w.Continue("go") }, "+ go\r\n"},
	}
	for i, tt := range tests {
		if got := writeWith(tt.utf, tt.f); got != tt.want {
			t.Errorf("%d: got %q, want %q", i, got, tt.want)
		}
	}
}

func TestEnvelopeGroupsAndNil(t *testing.T) {
	e := message.ParseAddressList(`Team: a@example.com, "B \"b\"" <b@example.com>;`)
	got := writeWith(false, func(w *Writer) { w.Envelope(&message.Envelope{Subject: "s", To: e}) })
	want := `(NIL "s" NIL NIL NIL ((NIL NIL "Team" NIL)(NIL NIL "a" "example.com")("B \"b\"" NIL "b" "example.com")(NIL NIL NIL NIL)) NIL NIL NIL NIL)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := writeWith(false, func(w *Writer) { w.Envelope(nil) }); got != "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)" {
		t.Error(got)
	}
}

func TestBodyStructureUnscannedMessage(t *testing.T) {
	// A message/rfc822 part the scanner did not descend into still has
	// the shape body-type-msg requires.
	p := &message.Part{Type: "message", Subtype: "rfc822", Encoding: "7BIT", BodyStart: 10, End: 30, Lines: 2}
	got := writeWith(false, func(w *Writer) { w.BodyStructure(p, false) })
	want := `("message" "rfc822" NIL NIL NIL "7BIT" 20 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) 2)`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
