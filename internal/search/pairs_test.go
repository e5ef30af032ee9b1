package search

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestPairsRuleOut: the filter rules out phrases whose words a text holds
// but never side by side, and keeps every phrase the text holds, from
// inside words too (RFC 9051 6.4.4: a substring).
func TestPairsRuleOut(t *testing.T) {
	p := BuildPairs("Re: the Observer Meetings", "we meet at the server, then a meeting.\r\nNotes follow", "")
	for _, q := range []string{
		"meeting server", // both words, never adjacent
		"the meeting",
		"notes meet",
		"follow notes",
		"meeting notes", // the words adjacent, other separators between
		"server then",
		"server,then",
	} {
		if p.MayContain(q) {
			t.Errorf("MayContain(%q) = true; its pair is in no text", q)
		}
	}
	for _, q := range []string{
		"observer meetings", "OBSERVER MEET", "server meet", "ver mee", // the phrase inside words
		"the server", "server, then", "a meeting.\r\nnotes", "ting. No",
		"meeting", "xyz", // one word: no pair to rule out with
		"at the server, then a", // inner words whole, short ones too
		"e meet",                // a first word of one rune: only the second is sure
	} {
		if !p.MayContain(q) {
			t.Errorf("MayContain(%q) = false for a phrase the texts hold", q)
		}
	}
	// A field's last word and the next field's first are not a pair.
	if p.MayContain("observer meetings we meet") {
		t.Error("a pair across two texts")
	}
}

// TestPairsNonASCII: pairs of non-ASCII words, folded as SEARCH folds.
func TestPairsNonASCII(t *testing.T) {
	p := BuildPairs("Straße in Köln, ΣΊΣΥΦΟΣ rollt")
	for _, q := range []string{"STRASSE IN KÖLN", "straße in köln", "ΣΊΣΥΦΟΣ ROLLT", "σίσυφος rollt", "öln, σί"} {
		want := q != "STRASSE IN KÖLN" // ß is not "ss" under simple folding
		if got := p.MayContain(q); got != want {
			t.Errorf("MayContain(%q) = %v, want %v", q, got, want)
		}
	}
	if p.MayContain("köln rollt") {
		t.Error("köln rollt: not adjacent")
	}
}

// TestPairsFalsePositives: phrases absent from a text of a few thousand
// words are ruled out at about the promised rate.
func TestPairsFalsePositives(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, 4+rng.IntN(6))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	var text []string
	for range 3000 {
		text = append(text, word())
	}
	p := BuildPairs(strings.Join(text, " "))
	fp := 0
	for range 10000 {
		if p.MayContain(word() + " " + word()) {
			fp++
		}
	}
	if fp > 400 { // 4 %: the design's 2 %, and room
		t.Fatalf("%d false positives in 10,000", fp)
	}
	for i := 0; i+1 < len(text); i++ {
		if !p.MayContain(text[i] + " " + text[i+1]) {
			t.Fatalf("pair %d (%s %s) missing", i, text[i], text[i+1])
		}
	}
}

// TestPairsEncoding: the filter is text, asked in place; what is not a
// filter of this version rules nothing out.
func TestPairsEncoding(t *testing.T) {
	p := BuildPairs("alpha beta gamma")
	if !utf8.ValidString(string(p)) || p.MayContain("alpha gamma") || !p.MayContain("alpha beta") {
		t.Fatalf("filter %q", p)
	}
	other := []byte(BuildPairs("alpha beta gamma"))
	other[1] = 'X' // the version byte's low bits
	for _, bad := range []Pairs{"", "AAAA", Pairs(other), p[:len(p)-4], "!" + p[1:], p + "AAAA"} {
		if !bad.MayContain("alpha gamma") {
			t.Errorf("%q ruled out a phrase", bad)
		}
	}
	if empty := BuildPairs(""); empty.MayContain("alpha beta") || !empty.MayContain("alpha") {
		t.Error("a text without pairs holds no phrase, and any one word may be in it as far as pairs tell")
	}
	// Sizes: about pairBitsPer bits a pair, not rounded to a power of two.
	words := strings.Repeat("word ", 1000)
	if n := len(BuildPairs(words)); n < 999*pairBitsPer/6 || n > 1000*pairBitsPer/6+16 {
		t.Errorf("a filter of 999 pairs is %d characters", n)
	}
}

// FuzzPairs: every substring of a text passes its filter.
func FuzzPairs(f *testing.F) {
	f.Add("the observer meetings, then", 4, 14)
	f.Add("Straße in KÖLN", 0, 9)
	f.Add("a b\xffc d", 0, 7)
	f.Fuzz(func(t *testing.T, text string, i, j int) {
		if !utf8.ValidString(text) {
			// SEARCH compares folded text, in which invalid bytes are
			// U+FFFD: so is the needle it is given.
			text = strings.ToValidUTF8(text, "\uFFFD")
		}
		if len(text) == 0 {
			return
		}
		i, j = int(uint(i)%uint(len(text))), int(uint(j)%uint(len(text)+1))
		if i > j {
			i, j = j, i
		}
		for i > 0 && !utf8.RuneStart(text[i]) {
			i--
		}
		for j < len(text) && !utf8.RuneStart(text[j]) {
			j++
		}
		q := text[i:j]
		if !BuildPairs("", text).MayContain(q) {
			t.Fatalf("%q holds %q but its filter rules it out (pairs %v)", text, q, fmt.Sprint(PhrasePairs(q)))
		}
	})
}
