package convert

import (
	"errors"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/message"
)

func TestDecodeHeader(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", "Café crème"},
		{"=?iso-8859-1?q?Caf=E9?= au lait", "Café au lait"},
		{"=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"},
		{"=?utf-8?b?R3LDvMOfZQ?=", "Grüße"}, // padding missing
		{"=?UTF-8*en?Q?Hi?=", "Hi"},         // RFC 2231 language
		// White space between adjacent encoded words goes, other stays.
		{"=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab"},
		{"=?UTF-8?Q?a?=\r\n =?UTF-8?Q?b?=", "ab"},
		{"=?UTF-8?Q?a?= x =?UTF-8?Q?b?=", "a x b"},
		{"x =?UTF-8?Q?a_b?= y", "x a b y"},
		// A character split over two words (ü is C3 BC).
		{"=?UTF-8?B?R3LD?= =?UTF-8?B?vMOfZQ==?=", "Grüße"},
		{"=?UTF-8?Q?Gr=C3?= =?utf-8?Q?=BC=C3=9Fe?=", "Grüße"},
		// Different charsets side by side.
		{"=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=", "éé"},
		{"=?windows-1252?Q?=80?=", "€"},
		{"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "日本語"},
		{"=?GB18030?B?1tDOxA==?=", "中文"},
		{"=?KOI8-R?B?8NLJ18XU?=", "Привет"},
		// Unknown charsets and broken words stay as written.
		{"=?x-unknown?Q?abc?= =?UTF-8?Q?d?=", "=?x-unknown?Q?abc?=d"},
		{"=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="},
		{"=?UTF-8?B?!!!?=", "=?UTF-8?B?!!!?="},
		{"=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?="},
		{"=?UTF-8?Q?unterminated", "=?UTF-8?Q?unterminated"},
		{"a =? b ?= c", "a =? b ?= c"},
		{"=?UTF-8?Q?stray=3?=", "stray=3"},
		// Folding, raw UTF-8 and 8-bit text.
		{"folded\r\n line", "folded line"},
		{"folded\n\tline", "folded\tline"},
		{"Zoë", "Zoë"},
		{"Caf\xe9", "Café"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := DecodeHeader(tt.in); got != tt.want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPartText(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"quoted-printable", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\nl'=C3=A9t=C3=A9 =\nsoft\n", "l'été soft\r\n"},
		{"quoted-printable lenient", "Content-Transfer-Encoding: Quoted-Printable\n\na=ZZ\x0cb =\nc  \nd=3d=3D=\n", "a=ZZ\x0cb c\r\nd=="},
		{"base64 lenient", "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: BASE64\n\nR3LD\nvMOf*ZQ==\n", "Grüße"},
		{"iso-8859-1", "Content-Type: text/plain; charset=\"ISO-8859-1\"\nContent-Transfer-Encoding: 8bit\n\n\xe9t\xe9\n", "été\r\n"},
		{"windows-1252", "Content-Type: text/plain; charset=windows-1252\n\n\x80 \x93q\x94\n", "€ “q”\r\n"},
		{"iso-2022-jp", "Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$BF|K\\8l\x1b(B\n", "日本語\r\n"},
		{"gb18030 base64", "Content-Type: text/plain; charset=gb18030\nContent-Transfer-Encoding: base64\n\n1tDOxMTayN0=\n", "中文内容"},
		{"no charset, 8-bit", "Subject: x\n\ncaf\xe9\n", "café\r\n"},
		{"no charset, UTF-8", "Subject: x\n\ncafé\n", "café\r\n"},
		{"unknown charset", "Content-Type: text/plain; charset=x-klingon\n\nqapla\xff\n", "qapla\uFFFD\r\n"},
		{"unknown encoding", "Content-Type: text/plain\nContent-Transfer-Encoding: x-uuencode\n\nbegin 644\n", "begin 644\r\n"},
		{"empty", "Content-Type: text/plain\n\n", ""},
	}
	scan := func(raw string) *message.Part {
		p, err := message.Scan(strings.NewReader(raw), message.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range tests {
		raw := strings.ReplaceAll(tt.raw, "\n", "\r\n") // as stored: CRLF
		got, err := PartText(strings.NewReader(raw), scan(raw))
		if err != nil || got != tt.want {
			t.Errorf("%s: PartText = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	multi := "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\nplain\n--b\nContent-Type: text/html\n\n<p><b>bold</b></p>\n--b--\n"
	root := scan(multi)
	if _, err := PartText(strings.NewReader(multi), root); !errors.Is(err, ErrNotLeaf) {
		t.Errorf("multipart: err %v", err)
	}
	html, err := PartText(strings.NewReader(multi), root.Find([]int{2}))
	if err != nil || !strings.Contains(html, "<b>bold</b>") {
		t.Errorf("PartText of text/html = %q, %v; want the markup", html, err)
	}
}

func TestPartTextBounded(t *testing.T) {
	big := strings.Repeat("A", MaxText+100)
	raw := "Content-Type: text/plain\n\n" + big
	p, err := message.Scan(strings.NewReader(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := PartText(strings.NewReader(raw), p)
	if err != nil || len(got) != MaxText {
		t.Errorf("PartText of %d bytes: %d bytes, %v", len(big), len(got), err)
	}
}
