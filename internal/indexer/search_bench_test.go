package indexer

import (
	"context"
	"path/filepath"
	"testing"

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
	docs := corpusDocs(b, 2000)
	x, err := bleveindex.Open(filepath.Join(b.TempDir(), "idx"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
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
