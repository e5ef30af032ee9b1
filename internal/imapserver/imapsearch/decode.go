package imapsearch

import (
	"encoding/binary"
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
	return containsFolded(haystack, fold(needle))
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
// collation of RFC 4790 9.2, used by SORT and THREAD). SEARCH folds
// every text it reads this way when it is ASCII, so it works eight bytes
// at a time (upperWord) into one allocation.
func asciiUpper(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'a' || s[i] > 'z') {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	var buf [4096]byte
	for i < len(s) {
		n := copy(buf[:], s[i:])
		j := 0
		for ; j+8 <= n; j += 8 {
			binary.LittleEndian.PutUint64(buf[j:], upperWord(binary.LittleEndian.Uint64(buf[j:])))
		}
		for ; j < n; j++ {
			if 'a' <= buf[j] && buf[j] <= 'z' {
				buf[j] -= 'a' - 'A'
			}
		}
		b.Write(buf[:n])
		i += n
	}
	return b.String()
}

// upperWord upper-cases the ASCII letters among eight bytes: a byte
// whose high bit is clear and that is in a..z loses 0x20. The sums work
// on seven bits a byte, so no carry crosses bytes.
func upperWord(x uint64) uint64 {
	const hi = 0x8080808080808080
	const ones = 0x0101010101010101
	low7 := x &^ hi
	geA := low7 + ones*(0x80-'a')   // high bit set: >= 'a'
	gtZ := low7 + ones*(0x80-'z'-1) // high bit set: > 'z'
	lower := geA &^ gtZ &^ x & hi
	return x ^ lower>>2
}
