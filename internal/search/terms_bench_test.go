package search_test

import (
	"testing"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/searchtest"
)

// BenchmarkTerms cuts a 10 KB body of a small vocabulary, with a few
// non-ASCII words, as the benchmark corpus's messages are.
func BenchmarkTerms(b *testing.B) {
	text := searchtest.Body(10<<10, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		search.Terms(text)
	}
}

// BenchmarkBuildPairs makes the phrase filter of the same body: the
// indexer's cost per body beside its terms.
func BenchmarkBuildPairs(b *testing.B) {
	text := searchtest.Body(10<<10, false)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		search.BuildPairs(text)
	}
}

// BenchmarkPairsMayContain asks that filter about a two-word phrase.
func BenchmarkPairsMayContain(b *testing.B) {
	p := search.BuildPairs(searchtest.Body(10<<10, false))
	for b.Loop() {
		p.MayContain("server meeting")
	}
}
