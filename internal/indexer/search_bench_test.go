package indexer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/search"
	bleveindex "github.com/quiremail/quire/internal/search/bleve"
)

// BenchmarkSearchIndex measures what the embedded index costs a SEARCH
// text key, index only (no store reads): one mailbox of the benchmark
// corpus (QUIRE_BENCH_MBOX, or 2,000 messages of gen_mbox.py), indexed
// in batches of 256, then each query of a sub-benchmark, in the fields
// TEXT asks (every field). The queries span the shapes that cost an
// index differently: a rare word, a common one, three letters inside
// many words, and the words of a phrase.
func BenchmarkSearchIndex(b *testing.B) {
	path := os.Getenv("QUIRE_BENCH_MBOX")
	if path == "" {
		path = filepath.Join(b.TempDir(), "corpus.mbox")
		gen := filepath.Join("..", "..", "bench", "corpus", "gen_mbox.py")
		if out, err := exec.Command("python3", gen, "2000", path).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", gen, err, out)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	c := convert.New(convert.Options{})
	defer c.Close()
	x, err := bleveindex.Open(filepath.Join(b.TempDir(), "idx"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	var docs []search.Doc
	for i, m := range bytes.Split(raw, []byte("\nFrom ")) {
		m = m[bytes.IndexByte(m, '\n')+1:]
		docs = append(docs, Doc(context.Background(), c, "u", "INBOX", uint32(i+1), bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n")), nil))
	}
	for i := 0; i < len(docs); i += 256 {
		part := docs[i:min(i+256, len(docs))]
		if err := x.Put(context.Background(), part, search.Mark{UserID: "u", MailboxID: "INBOX", UID: part[len(part)-1].UID}); err != nil {
			b.Fatal(err)
		}
	}
	settled()
	all := []string{search.FieldSubject, search.FieldFrom, search.FieldTo, search.FieldCc, search.FieldBcc,
		search.FieldBody, search.FieldAttachments, search.FieldHeaders}
	for _, q := range []string{"zeppelin", "meeting", "the", "ing", "server meeting", "ation"} {
		b.Run(q, func(b *testing.B) {
			var n int
			for b.Loop() {
				uids, ok, err := x.Search(context.Background(), "u", "INBOX", q, all...)
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
				n = len(uids)
			}
			b.ReportMetric(float64(n), "hits")
		})
	}
}
