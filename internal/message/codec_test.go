package message

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMarshalRoundTrip(t *testing.T) {
	addrs := []Address{{Name: "A", Mailbox: "a", Host: "x"}, {Mailbox: "g"}, {ADL: "@r", Mailbox: "m", Host: MissingHost}, {}}
	p := &Part{
		HeaderStart: 0, BodyStart: 100, End: 5000, Lines: 77, HeaderNUL: true,
		Type: "multipart", Subtype: "x-custom", Params: []Param{{"boundary", "b"}, {"", ""}},
		ID: "<id>", Description: "d", Encoding: "", MD5: "md5",
		Disposition: "inline", DispositionParams: []Param{{"filename", "f\x00\xff"}},
		Language: []string{"en", ""}, Location: "http://x/",
		Envelope: &Envelope{
			Date: "Mon", Subject: "s", From: addrs, Sender: addrs[:1], ReplyTo: addrs,
			To: addrs, Cc: addrs[1:], Bcc: addrs[3:], InReplyTo: "<i>", MessageID: "<m>",
			References: []string{"<a>", ""},
		},
		Parts: []*Part{
			{HeaderStart: 120, BodyStart: 110, End: -5, Lines: -1, Type: "text", Subtype: "plain", Encoding: "7BIT", BodyNUL: true},
			{HeaderStart: 200, BodyStart: 300, End: 400, Type: "message", Subtype: "rfc822", Encoding: "BASE64",
				Parts: []*Part{{HeaderStart: 300, BodyStart: 350, End: 400, Type: "", Subtype: "", Encoding: "7BIT", Envelope: &Envelope{}}}},
		},
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip:\n got %+v\nwant %+v", q, p)
	}

	// Every prefix and every one-byte change fails cleanly or decodes.
	for i := range b {
		if _, err := Unmarshal(b[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("prefix of %d bytes: %v", i, err)
		}
		c := []byte(string(b))
		c[i] ^= 0x5a
		_, _ = Unmarshal(c)
	}
	// The envelope alone, without decoding the parts.
	if e, err := UnmarshalEnvelope(b); err != nil || !reflect.DeepEqual(e, p.Envelope) {
		t.Errorf("UnmarshalEnvelope: %+v, %v", e, err)
	}
	if e, err := UnmarshalEnvelope(b[:3]); !errors.Is(err, ErrCorrupt) || e != nil {
		t.Errorf("UnmarshalEnvelope of a prefix: %+v, %v", e, err)
	}
	if _, err := Unmarshal(append(b, 0)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: %v", err)
	}
	if _, err := Unmarshal(append([]byte{99}, b[1:]...)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown version: %v", err)
	}
}

func TestMarshalTooDeep(t *testing.T) {
	p := &Part{Type: "message", Subtype: "rfc822"}
	for q, i := p, 0; i < maxNesting; i++ {
		q.Parts = []*Part{{Type: "message", Subtype: "rfc822"}}
		q = q.Parts[0]
	}
	if _, err := p.MarshalBinary(); err == nil {
		t.Errorf("marshaled a tree deeper than %d", maxNesting)
	}
}

func TestMarshalSize(t *testing.T) {
	raw := benchMessage()
	p := scan(t, raw)
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(p)
	t.Logf("%d-byte message, %d parts: binary %d bytes, JSON %d bytes", len(raw), strings.Count(shape(p), "/"), len(b), len(j))
	if len(b)*3 > len(j) {
		t.Errorf("binary encoding %d bytes, not much smaller than JSON's %d", len(b), len(j))
	}
}

func TestUnmarshalBinary(t *testing.T) {
	p := scan(t, mustRead("lf-only.eml"))
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var q Part
	if err := q.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(p, &q) {
		t.Errorf("UnmarshalBinary: %v", err)
	}
	if err := q.UnmarshalBinary([]byte{codecVersion}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalBinary of a bare version byte: %v", err)
	}
}
