package imapsearch

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ContainsFold reports whether needle is a substring of haystack when
// case is disregarded by Unicode simple case folding, as RFC 9051 6.4.4
// allows for SEARCH ("ÉTÉ" finds "été", "STRASSE" does not find
// "straße"). An empty needle is in every string.
func ContainsFold(haystack, needle string) bool {
	if needle == "" {
		return true
	}
	return strings.Contains(fold(haystack), fold(needle))
}

// fold maps every rune of s to one representative of its simple case
// folding orbit (the smallest rune of the orbit), so that two strings
// are equal under simple case folding exactly when their folds are.
// Invalid UTF-8 becomes U+FFFD.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return asciiUpper(s)
	}
	return strings.Map(foldRune, s)
}

func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	m := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	return m
}

// asciiUpper upper-cases ASCII letters only (the i;ascii-casemap
// collation of RFC 4790 9.2, used by SORT and THREAD).
func asciiUpper(s string) string {
	for i := 0; i < len(s); i++ {
		if 'a' <= s[i] && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'a' <= b[j] && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
