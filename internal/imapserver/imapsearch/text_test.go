package imapsearch

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/convert"
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
		if got := convert.DecodeHeader(tt.in); got != tt.want {
			t.Errorf("convert.DecodeHeader(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestHeaderValues(t *testing.T) {
	raw := []byte("From foo@bar Mon Jan  2 15:04:05 2006\r\n" +
		"Received: from a\r\n\tby b\r\n" +
		"X-Tag: one\r\n" +
		"Subject : folded\r\n  twice\r\n" +
		"x-tag:two  \r\n" +
		"bad line\r\n" +
		" continuation of bad line\r\n" +
		"Empty:\r\n" +
		"\r\n" +
		"X-Tag: in the body\r\n")
	tests := []struct {
		name string
		want []string
	}{
		{"X-TAG", []string{"one", "two"}},
		{"subject", []string{"folded  twice"}},
		{"Received", []string{"from a\tby b"}},
		{"Empty", []string{""}},
		{"From", nil},
		{"bad line", nil},
		{"Missing", nil},
	}
	for _, tt := range tests {
		if got := HeaderValues(raw, tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("HeaderValues(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	lf := []byte("A: 1\nB: 2\n 3\n\nA: 4\n")
	if got := HeaderValues(lf, "b"); !slices.Equal(got, []string{"2 3"}) {
		t.Errorf("LF header: %q", got)
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
	for _, tt := range tests {
		m := newMsg(t, 1, tt.raw)
		got, err := convert.PartText(strings.NewReader(m.raw), m.part)
		if err != nil || got != tt.want {
			t.Errorf("%s: PartText = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	m := newMsg(t, 1, raw2)
	if _, err := convert.PartText(strings.NewReader(m.raw), m.part); !errors.Is(err, convert.ErrNotLeaf) {
		t.Errorf("multipart: err %v", err)
	}
	html, err := convert.PartText(strings.NewReader(m.raw), m.part.Find([]int{2}))
	if err != nil || !strings.Contains(html, "<b>bold</b>") {
		t.Errorf("PartText of text/html = %q, %v; want the markup", html, err)
	}
}

func TestPartTextBounded(t *testing.T) {
	big := strings.Repeat("A", convert.MaxText+100)
	raw := "Content-Type: text/plain\n\n" + big
	p, err := message.Scan(strings.NewReader(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := convert.PartText(strings.NewReader(raw), p)
	if err != nil || len(got) != convert.MaxText {
		t.Errorf("PartText of %d bytes: %d bytes, %v", len(big), len(got), err)
	}
}

func TestBodyText(t *testing.T) {
	m := newMsg(t, 1, raw3)
	got := BodyText(strings.NewReader(m.raw), m.part)
	for _, want := range []string{"日本語のテキスト", "Subject: Inner", "中文内容"} {
		if !strings.Contains(got, want) {
			t.Errorf("BodyText lacks %q: %q", want, got)
		}
	}
	if strings.Contains(got, "secretword") {
		t.Errorf("BodyText includes an attachment: %q", got)
	}
	// A multipart whose boundary never appears is searched as text.
	m = newMsg(t, 1, "Content-Type: multipart/mixed; boundary=zz\n\nno parts here\n")
	if got := BodyText(strings.NewReader(m.raw), m.part); !strings.Contains(got, "no parts here") {
		t.Errorf("BodyText of boundary-less multipart = %q", got)
	}
}

func TestHTMLText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"<p>Some <b>bold</b> text</p>", "Some bold text"},
		{"<td>a</td><td>b</td>", "a b"},
		{"a<br/>b", "a b"},
		{"caf&eacute; &amp; &#x2603; &lt;tag&gt;", "café & ☃ <tag>"},
		{"x<!-- hidden -->y", "x y"},
		{"<STYLE>p{}</STYLE>shown<Script>var x</sCript>", "shown"},
		{"un<b", "un"},
		{"<script>never closed", ""},
	}
	for _, tt := range tests {
		if got := convert.HTMLText(tt.in); got != tt.want {
			t.Errorf("convert.HTMLText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestContainsFold(t *testing.T) {
	tests := []struct {
		hay, needle string
		want        bool
	}{
		{"l'été est là", "ÉTÉ", true},
		{"HELLO", "hello", true},
		{"Straße", "STRASSE", false}, // simple folding only
		{"ΣΊΣΥΦΟΣ", "σίσυφος", true}, // final sigma folds with sigma
		{"Kelvin \u212a", "k", true},
		{"ſ", "S", true},
		{"abc", "", true},
		{"", "a", false},
		{"résumé", "RESUME", false}, // accents are not folded
		{"bad \xff bytes", "BYTES", true},
	}
	for _, tt := range tests {
		if got := ContainsFold(tt.hay, tt.needle); got != tt.want {
			t.Errorf("ContainsFold(%q, %q) = %v", tt.hay, tt.needle, got)
		}
	}
}

func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in, want string
		reply    bool
	}{
		{"Hello", "Hello", false},
		{"Re: Hello", "Hello", true},
		{"RE: re: Re:Hello", "Hello", true},
		{"Re: [fwd: Hello]", "Hello", true},
		{"[fwd: Re: Hello]", "Hello", true},
		{"Fwd: Hello", "Hello", true},
		{"Fw: Hello", "Hello", true},
		{"Re[2]: Hello", "Hello", true},
		{"Re [2]: Hello", "Hello", true},
		{"[list] Re: Hello", "Hello", true},
		{"[list] Hello", "Hello", false},
		{"[list]", "[list]", false},
		{"[a] [b] Hello", "Hello", false},
		{"Hello (fwd)", "Hello", true},
		{"Hello (FWD) (fwd)  ", "Hello", true},
		{"  Hello\t  world  ", "Hello world", false},
		{"Re: Re: [fwd: [list] Re: Hello (fwd)]", "Hello", true},
		{"=?UTF-8?Q?Re=3A_Gr=C3=BC=C3=9Fe?=", "Grüße", true},
		{"Re:", "", true},
		{"Regarding: x", "Regarding: x", false},
		{"Reply", "Reply", false},
		{"[fwd: ]", "", true},
		{"", "", false},
	}
	for _, tt := range tests {
		got, reply := baseSubject(tt.in)
		if got != tt.want || reply != tt.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tt.in, got, reply, tt.want, tt.reply)
		}
		if BaseSubject(tt.in) != got {
			t.Errorf("BaseSubject(%q) differs from baseSubject", tt.in)
		}
	}
}
