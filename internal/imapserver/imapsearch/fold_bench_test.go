package imapsearch

import (
	"strings"
	"testing"
)

// BenchmarkASCIIUpper folds 9.8 KB of ASCII text, as SEARCH folds a body it reads.
func BenchmarkASCIIUpper(b *testing.B) {
	s := strings.Repeat("the quick brown fox jumps over the lazy dog 0123 ", 200)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = asciiUpper(s)
	}
}
