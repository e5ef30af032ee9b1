package imapsearch

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
)

func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{
		"=?ISO-8859-1?Q?Caf=E9?=", "=?UTF-8?B?R3LDvMOfZQ==?= x", "=?UTF-8?B?R3LD?= =?UTF-8?B?vMOfZQ==?=",
		"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "=?x?q?a?=", "=?=?=?", "Re: [fwd: a (fwd)]", "a\r\n b\xff",
		"=?utf-16?b?AGEAYg==?=", "=?UTF-8?Q?=?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := convert.DecodeHeader(s)
		if !utf8.ValidString(d) {
			t.Errorf("convert.DecodeHeader(%q) = %q, not UTF-8", s, d)
		}
		b, _ := baseSubject(s)
		if !utf8.ValidString(b) || strings.HasPrefix(b, " ") || strings.HasSuffix(b, " ") {
			t.Errorf("baseSubject(%q) = %q", s, b)
		}
		if BaseSubject(b) != BaseSubject(BaseSubject(b)) {
			t.Errorf("BaseSubject not stable on %q", b)
		}
		if !ContainsFold(s, s) || !ContainsFold(d, d) {
			t.Errorf("ContainsFold(%q, itself) is false", s)
		}
		_ = convert.HeaderValues([]byte(s), "subject")
	})
}

func FuzzPartText(f *testing.F) {
	for _, s := range []string{raw1, raw2, raw3, raw4,
		"Content-Type: text/plain; charset=utf-16\nContent-Transfer-Encoding: base64\n\n//5hAGIA\n",
		"Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<p>a=\n<b>b</b>=ZZ=4\n",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: x\n\n--b--\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := message.Scan(strings.NewReader(raw), message.Limits{MaxParts: 50, MaxDepth: 8})
		if err != nil {
			t.Fatal(err)
		}
		body := strings.NewReader(raw)
		var walk func(p *message.Part)
		walk = func(p *message.Part) {
			if s, err := convert.PartText(body, p); err == nil && !utf8.ValidString(s) {
				t.Errorf("PartText gave invalid UTF-8 %q", s)
			}
			for _, c := range p.Parts {
				walk(c)
			}
		}
		walk(p)
		_ = convert.SearchBody(body, p)
		_ = convert.HTMLText(raw)
		m := &testMsg{raw: raw, part: p, size: int64(len(raw))}
		for _, keys := range []string{"TEXT a", `HEADER subject ""`, "BODY x"} {
			if _, err := Match(program(t, keys), m, Context{}); err != nil {
				t.Errorf("%s: %v", keys, err)
			}
		}
	})
}

// FuzzThread checks that threading keeps every message exactly once, in a
// tree without cycles, and that dummies have children. Each input line is
// "message-id|references|subject|day".
func FuzzThread(f *testing.F) {
	f.Add("<a>|||1\n<b>|<a>|Re: x|2\n<c>|<b> <a>|x|3\n<a>|<c>||1\n|<q> <r>|Re: y|4\n<r>|<q>|y|9")
	f.Add("<a>|<b>|s|1\n<b>|<c>|s|1\n<c>|<a>|s|1")
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		if len(lines) > 30 {
			lines = lines[:30]
		}
		var cs []conv
		for _, l := range lines {
			f := strings.SplitN(l, "|", 4)
			for len(f) < 4 {
				f = append(f, "")
			}
			for i := range f {
				f[i] = strings.Map(func(r rune) rune {
					if r < ' ' || r == ':' {
						return -1
					}
					return r
				}, f[i])
			}
			day := 1
			if len(f[3]) > 0 {
				day = 1 + int(f[3][0])%28
			}
			cs = append(cs, conv{f[0], f[1], "", f[2], fmt.Sprintf("%d Jan 2006 00:00 +0000", day)})
		}
		msgs := convMailbox(t, cs)
		for name, roots := range map[string][]*Thread{"REFERENCES": ThreadReferences(msgs), "ORDEREDSUBJECT": ThreadOrderedSubject(msgs)} {
			seen := map[uint32]int{}
			visited := map[*Thread]bool{}
			var walk func(n *Thread)
			walk = func(n *Thread) {
				if visited[n] {
					t.Fatalf("%s: node visited twice", name)
				}
				visited[n] = true
				if n.Msg == nil && len(n.Children) == 0 {
					t.Errorf("%s: dummy without children", name)
				}
				if n.Msg != nil {
					seen[n.Msg.Seq()]++
				}
				for _, c := range n.Children {
					walk(c)
				}
			}
			for _, r := range roots {
				walk(r)
			}
			for _, m := range msgs {
				if seen[m.Seq()] != 1 {
					t.Errorf("%s: message %d appears %d times in %s", name, m.Seq(), seen[m.Seq()], FormatThreads(roots, bySeq))
				}
			}
		}
	})
}
