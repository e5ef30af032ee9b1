package imapsearch

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestASCIIFolders holds containsFolded's premise: the only non-ASCII
// runes that fold to ASCII are asciiFolders.
func TestASCIIFolders(t *testing.T) {
	var got []string
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if utf8.ValidRune(r) && foldRune(r) < utf8.RuneSelf {
			got = append(got, string(r))
		}
	}
	if strings.Join(got, " ") != strings.Join(asciiFolders[:], " ") {
		t.Errorf("non-ASCII runes folding to ASCII: %q, containsFolded assumes %q", got, asciiFolders)
	}
}

func TestContainsFolded(t *testing.T) {
	for _, c := range []struct {
		h, n string
		want bool
	}{
		{"Server Meeting at noon", "server meeting", true},
		{"server\r\nmeeting", "server meeting", false},
		{"the SERVER meetinG.", "server meeting", true},
		{"serve meeting server meetin", "server meeting", false},
		{"ſerver meeting", "server meeting", true},         // ſ folds to S
		{"\u212Aelvin", "kelvin", true},                    // the Kelvin sign folds to K
		{"été à Paris", "ÉTÉ", true},                       // a non-ASCII needle folds the text
		{"straße", "STRASSE", false},                       // simple folding only (RFC 9051 6.4.4)
		{"caf\xe9 server meeting", "server meeting", true}, // invalid UTF-8 elsewhere
		{"server\xffmeeting", "server meeting", false},
		{"", "a", false},
		{"a", "", true},
		{"xxxxxxxxxq", "Q", true},
		{"aaaa", "aaaaa", false},
		{"", "server", false}, // the anchor past the text's end
		{"zzzz 42 zzzz", "42", true},
	} {
		if got := containsFolded(c.h, fold(c.n)); got != c.want {
			t.Errorf("containsFolded(%q, fold(%q)) = %v, want %v", c.h, c.n, got, c.want)
		}
	}
}

// FuzzContainsFolded holds containsFolded to folding the text first.
func FuzzContainsFolded(f *testing.F) {
	for _, s := range [][2]string{
		{"Server Meeting", "r m"}, {"ſ\u212a sk", "SK"}, {"aAaAb", "aab"}, {"\xff\xfeab", "B"}, {"été", "ÉT"}, {"x", ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, h, n string) {
		want := strings.Contains(fold(h), fold(n))
		if got := containsFolded(h, fold(n)); got != want {
			t.Errorf("containsFolded(%q, fold(%q)) = %v, folding first gives %v", h, n, got, want)
		}
	})
}

// BenchmarkContainsFolded looks for a phrase in 10 KB of text that does
// not hold it, as SEARCH BODY verifies a candidate; the fold was the old way.
func BenchmarkContainsFolded(b *testing.B) {
	h := strings.Repeat("The quick brown fox jumps over the lazy dog; the server was down at the meeting. ", 125)
	n := fold("server meeting")
	b.Run("containsFolded", func(b *testing.B) {
		b.SetBytes(int64(len(h)))
		for b.Loop() {
			if containsFolded(h, n) {
				b.Fatal("found")
			}
		}
	})
	b.Run("fold", func(b *testing.B) {
		b.SetBytes(int64(len(h)))
		for b.Loop() {
			if strings.Contains(fold(h), n) {
				b.Fatal("found")
			}
		}
	})
}
