package imapsearch

import (
	"strings"
	"unicode/utf8"
)

// containsFolded reports whether fold(h) contains needle, a folded
// string (fold(needle) == needle), without folding h when it need not:
// SEARCH used to fold every text it read into a new string, which was a
// fifth of a phrase search's CPU.
//
// An ASCII needle is found in h itself, ASCII case disregarded. That is
// the same answer because fold maps a rune to an ASCII one only when
// the rune is ASCII, or is one of asciiFolders (ſ to S, the Kelvin sign
// to K; TestASCIIFolders checks the list against the Unicode tables):
// so a match of fold(h) is a run of ASCII runes of h equal to the needle
// but for case, and such a run is a match of fold(h). Invalid UTF-8 folds
// to U+FFFD, and no byte of a multi-byte rune is ASCII, so neither can
// take part in a match. When the needle holds S or K and h holds one of
// asciiFolders, h is folded, as before.
func containsFolded(h, needle string) bool {
	if needle == "" {
		return true
	}
	if !isASCII(needle) || strings.ContainsAny(needle, "SK") && hasASCIIFolder(h) {
		return strings.Contains(fold(h), needle)
	}
	return indexASCIIFold(h, needle) >= 0
}

// asciiFolders are the non-ASCII runes whose fold is ASCII.
var asciiFolders = [...]string{"\u017f", "\u212a"}

func hasASCIIFolder(h string) bool {
	for _, r := range asciiFolders {
		if strings.Contains(h, r) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// indexASCIIFold returns the index of the first run of h equal to n
// with ASCII letters' case disregarded, or -1; n is ASCII without lower
// case letters. It looks for the needle's rarest byte (anchorOf) in
// either case with IndexByte, which scans many bytes an instruction,
// and compares the needle around each.
func indexASCIIFold(h, n string) int {
	if len(n) > len(h) {
		return -1
	}
	j := anchorOf(n)
	upper := n[j]
	lower := upper
	if 'A' <= upper && upper <= 'Z' {
		lower += 'a' - 'A'
	}
	// nu and nl: the next index of upper and lower at or after pos, -1
	// when there is none, or below pos when not looked for yet.
	nu, nl := -2, -2
	if lower == upper {
		nl = -1
	}
	for pos := j; ; {
		if nu != -1 && nu < pos {
			nu = indexByteFrom(h, upper, pos)
		}
		if nl != -1 && nl < pos {
			nl = indexByteFrom(h, lower, pos)
		}
		k := nu
		if k == -1 || nl != -1 && nl < k {
			k = nl
		}
		if k == -1 {
			return -1
		}
		start := k - j
		if start+len(n) > len(h) {
			return -1
		}
		if equalFoldASCII(h[start:start+len(n)], n) {
			return start
		}
		pos = k + 1
	}
}

func indexByteFrom(h string, c byte, from int) int {
	i := strings.IndexByte(h[from:], c)
	if i < 0 {
		return -1
	}
	return from + i
}

// equalFoldASCII reports whether s equals n, ASCII letters of s
// upper-cased; len(s) == len(n).
func equalFoldASCII(s, n string) bool {
	for i := 0; i < len(n); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != n[i] {
			return false
		}
	}
	return true
}

// anchorOf returns the index of the byte of n that text holds least
// often, by a rough rank of English letter frequency (digits and
// punctuation but the space rarer than any letter): fewer false starts.
func anchorOf(n string) int {
	best, bestRank := 0, 255
	for i := 0; i < len(n); i++ {
		if r := byteRank[n[i]]; r < bestRank {
			best, bestRank = i, r
		}
	}
	return best
}

// byteRank orders bytes by how often mail text holds them, rarest
// lowest.
var byteRank = func() (t [256]int) {
	const common = "ZQJXKVBPYGFWMUCLDRHSNIOATE " // rarest first
	for i := 0; i < len(common); i++ {
		t[common[i]] = 10 + i
	}
	return t
}()
