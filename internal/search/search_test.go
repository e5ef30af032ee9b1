package search

import (
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestCanonIsSearchsFold: two runes have one Canon exactly when SEARCH's
// fold (the smallest rune of the case-folding orbit) makes them equal.
func TestCanonIsSearchsFold(t *testing.T) {
	fold := func(r rune) rune {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		return m
	}
	byCanon := map[rune]rune{} // canon -> fold seen
	for r := rune(0); r <= 0x1FFFF; r++ {
		if !unicode.IsPrint(r) {
			continue
		}
		c := []rune(Canon(string(r)))[0]
		if f, ok := byCanon[c]; ok && f != fold(r) {
			t.Fatalf("Canon(%q) = Canon of a rune with another fold (%q vs %q)", r, f, fold(r))
		}
		byCanon[c] = fold(r)
	}
	for in, want := range map[string]string{"ſcale": "scale", "\u212Aelvin": "kelvin", "İstanbul": "İstanbul", "ÉTÉ": "été", "ABC": "abc"} {
		if got := Canon(in); got != want {
			t.Errorf("Canon(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTermsAndPlan(t *testing.T) {
	got := strings.Join(Terms("Été x-ray, été"), "|")
	if got != "été|ray" {
		t.Fatalf("terms %q", got)
	}
	long := Terms("abcdefghijklmnopqrstu")
	if len(long) != 19 || long[0] != "abcdefghijklmnop" || long[18] != "stu" {
		t.Fatalf("terms of a long word: %q", long)
	}
	for _, tc := range []struct {
		text     string
		prefixes string
		exact    bool
		ok       bool
	}{
		{"Köln", "köln", true, true},
		{"ab", "", false, false},  // too short
		{"---", "", false, false}, // no word
		{"and delta", "and|delta", false, true},
		{"x-ray", "ray", false, true},
		{"ab cd", "", false, false},                                     // no word of MinQuery runes
		{"go to work", "work", false, true},                             // the short words are not asked
		{strings.Repeat("z", 17), strings.Repeat("z", 16), false, true}, // longer than a term
	} {
		ps, exact, ok := Plan(tc.text)
		if strings.Join(ps, "|") != tc.prefixes || exact != tc.exact || ok != tc.ok || Exact(tc.text) != (tc.exact && tc.ok) {
			t.Errorf("Plan(%q) = %q %v %v", tc.text, ps, exact, ok)
		}
	}
}

// FuzzExact: whenever Exact(needle), the index's rule (some term of the
// text starts with the planned prefix) agrees with SEARCH's (the folded
// text contains the folded needle); otherwise the rule is a superset.
func FuzzExact(f *testing.F) {
	for _, s := range [][2]string{{"Quarterly Zeppelin", "EPP"}, {"ſcale", "SCALE"}, {"İstanbul", "istan"}, {"x-ray scan", "y sc"}, {"日本語のテスト", "テスト"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, text, needle string) {
		prefixes, exact, ok := Plan(needle)
		if !ok {
			return
		}
		terms := Terms(text)
		all := true
		for _, p := range prefixes {
			found := false
			for _, term := range terms {
				found = found || strings.HasPrefix(term, p)
			}
			all = all && found
		}
		contains := strings.Contains(Canon(text), Canon(needle))
		if contains && !all {
			t.Fatalf("%q contains %q but the index would not say so (prefixes %q)", text, needle, prefixes)
		}
		if exact && all != contains {
			t.Fatalf("exact query %q on %q: index %v, SEARCH %v", needle, text, all, contains)
		}
	})
}

// FuzzCanon holds Canon's byte loop to the rune-by-rune definition.
func FuzzCanon(f *testing.F) {
	for _, s := range []string{"Grüße aus KÖLN", "ſcale \u212Aelvin", "İstanbul", "bad \xff byte", "日本語 ABC"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Canon(s), strings.Map(canonSlow, s); got != want {
			t.Fatalf("Canon(%q) = %q, want %q", s, got, want)
		}
	})
}

// FuzzEachTerm holds EachTerm, and EachSuffix of each of EachWord, to
// the plain definition of the terms (every word of Canon(s) cut at each
// rune that is not inWord; every suffix of at least MinQuery runes, cut
// to MaxTerm; a word once), in order.
func FuzzEachTerm(f *testing.F) {
	for _, s := range []string{"Été x-ray, été", "abcdefghijklmnopqrstu", "Grüße aus Köln, KÖLN köln", "a\u0301bc ǅx İstanbul ſtop", "\xff\xfeab\xffcd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want []string
		seen := map[string]bool{}
		for _, w := range strings.FieldsFunc(Canon(s), func(r rune) bool { return !inWord(r) }) {
			rs := []rune(w)
			if len(rs) < MinQuery || seen[w] {
				continue
			}
			seen[w] = true
			for i := range len(rs) - MinQuery + 1 {
				want = append(want, string(rs[i:min(len(rs), i+MaxTerm)]))
			}
		}
		var got []string
		EachTerm(s, func(term string) { got = append(got, term) })
		if !slices.Equal(got, want) {
			t.Fatalf("EachTerm(%q) = %q, want %q", s, got, want)
		}
		// An index of words finds the same terms through their suffixes.
		got = got[:0]
		EachWord(s, func(w string) { EachSuffix(w, func(term string) { got = append(got, term) }) })
		if !slices.Equal(got, want) {
			t.Fatalf("EachSuffix of EachWord(%q) = %q, want %q", s, got, want)
		}
		// EachWordOf is eachLongWord written out: every occurrence.
		var occ, wantOcc []string
		EachWordOf(Canon(s), func(w string) { occ = append(occ, w) })
		eachLongWord(Canon(s), func(w string, _ bool) { wantOcc = append(wantOcc, w) })
		if !slices.Equal(occ, wantOcc) {
			t.Fatalf("EachWordOf(%q) = %q, want %q", s, occ, wantOcc)
		}
	})
}
