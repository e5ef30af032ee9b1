package bleveindex

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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

// BenchmarkAnalyzeCorpus analyzes the messages of the benchmark corpus
// (bench/corpus/gen_mbox.py, or the mbox QUIRE_BENCH_MBOX names), headers
// and text, without their base64 lines (the indexer analyzes what they
// decode to, not them): one op is one message.
func BenchmarkAnalyzeCorpus(b *testing.B) {
	path := os.Getenv("QUIRE_BENCH_MBOX")
	if path == "" {
		path = filepath.Join(b.TempDir(), "corpus.mbox")
		gen := filepath.Join("..", "..", "..", "bench", "corpus", "gen_mbox.py")
		if out, err := exec.Command("python3", gen, "200", path).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", gen, err, out)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	var size int64
	for m := range bytes.SplitSeq(raw, []byte("\nFrom ")) {
		var text []byte
		for line := range bytes.Lines(m) {
			if len(line) < 60 || bytes.IndexByte(line, ' ') >= 0 {
				text = append(text, line...)
			}
		}
		texts = append(texts, string(text))
		size += int64(len(text))
	}
	b.SetBytes(size / int64(len(texts)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		analyze(texts[i%len(texts)])
		i++
	}
}
