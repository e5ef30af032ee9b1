package bleveindex

import (
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/search"
)

// modelWords is distinctWords by its definition: the distinct words of
// search.EachWordOf over the Canon text, in the order first met.
func modelWords(text string) []string {
	seen := map[string]bool{}
	out := []string{}
	search.EachWordOf(search.Canon(text), func(w string) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	})
	return out
}

func TestDistinctWords(t *testing.T) {
	for _, text := range []string{
		"",
		"ab",
		"The server, the SERVER and the Server: meeting at 10:30 in Room 1234b.",
		"Re: [quire] patch v2/3 — naïve café, ſtraße and KELVIN \u212a",
		"mixed ASCII then Grüße aus Köln, then ASCII again; Grüße",
		"x" + strings.Repeat("Long", 40) + " " + strings.Repeat("long", 40) + "x",
		"tab\tseparated\r\nCRLF lines\x00nul\x7fdel",
		"\xff\xfe invalid bytes amid words \xc3",
		manyWords(),
	} {
		if got, want := distinctWords(text), modelWords(text); !slices.Equal(got, want) {
			t.Errorf("distinctWords(%.40q):\n got %q\nwant %q", text, got, want)
		}
	}
}

// manyWords is a text with more distinct words than a set's first
// table holds, so that it grows.
func manyWords() string {
	var sb strings.Builder
	for i := range 3000 {
		sb.WriteString("Word")
		sb.WriteString(strings.Repeat("z", i%7))
		sb.WriteByte(byte('A' + i%26))
		sb.WriteByte(byte('a' + i/26%26))
		sb.WriteByte(' ')
	}
	return sb.String()
}

func FuzzDistinctWords(f *testing.F) {
	f.Add("The server, the SERVER: Grüße")
	f.Add("abc ABC aBc \u212a \xff")
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := distinctWords(text), modelWords(text); !slices.Equal(got, want) {
			t.Fatalf("distinctWords(%q) = %q, want %q", text, got, want)
		}
	})
}
