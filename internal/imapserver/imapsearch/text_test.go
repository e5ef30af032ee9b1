package imapsearch

import (
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/convert"
)

func TestBodyText(t *testing.T) {
	m := newMsg(t, 1, raw3)
	got := convert.SearchBody(strings.NewReader(m.raw), m.part)
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
	if got := convert.SearchBody(strings.NewReader(m.raw), m.part); !strings.Contains(got, "no parts here") {
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

// FuzzASCIIUpper holds the word-at-a-time asciiUpper to the byte rule:
// a..z lose 0x20, every other byte stays.
func FuzzASCIIUpper(f *testing.F) {
	for _, s := range []string{"", "hello", "MiXeD cAsE 123 {|}`@[", "été z", strings.Repeat("abcdefghijklmnopqrstuvwxyz\x80\xff", 400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := []byte(s)
		for i, c := range want {
			if 'a' <= c && c <= 'z' {
				want[i] = c - ('a' - 'A')
			}
		}
		if got := asciiUpper(s); got != string(want) {
			t.Fatalf("asciiUpper(%q) = %q, want %q", s, got, want)
		}
	})
}
