package search

import (
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

func TestGrams(t *testing.T) {
	gs := Grams("Été x")
	var terms []string
	for i, g := range gs {
		if g.Pos != i {
			t.Errorf("gram %d at position %d", i, g.Pos)
		}
		terms = append(terms, g.Term)
	}
	if got := strings.Join(terms, "|"); got != "été|té |é x" {
		t.Fatalf("grams %q", got)
	}
	if len(Grams("ab")) != 0 {
		t.Fatal("a two-rune text has grams")
	}
}
