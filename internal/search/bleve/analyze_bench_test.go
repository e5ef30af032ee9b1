package bleveindex

import (
	"testing"

	"github.com/quiremail/quire/internal/search/searchtest"
)

// BenchmarkAnalyze analyzes a 10 KB body of many distinct words: the
// term frequencies of one document's field.
func BenchmarkAnalyze(b *testing.B) {
	text := searchtest.Body(10<<10, true)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		analyze(text)
	}
}
