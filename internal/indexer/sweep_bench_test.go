package indexer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	bleveindex "github.com/quiremail/quire/internal/search/bleve"
)

// BenchmarkSweepVocabulary measures what sweeping the embedded index's
// vocabulary costs, in wall and CPU time: the messages of the benchmark
// corpus (QUIRE_BENCH_MBOX, or QUIRE_BENCH_N messages of gen_mbox.py,
// default 5,000) spread over 10 users, indexed in batches of 64; then a
// sweep that finds every word held (what a periodic sweep costs), a
// sweep after one user is deleted, and one after every user is (which
// removes every word: the vocabulary's size in words).
func BenchmarkSweepVocabulary(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("QUIRE_BENCH_N"))
	if n <= 0 {
		n = 5000
	}
	docs := corpusDocs(b, n)
	const users = 10
	for i := range docs {
		docs[i].UserID = "u" + strconv.Itoa(i%users)
	}
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "idx")
		x, err := bleveindex.Open(dir)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < len(docs); i += 64 {
			if err := x.Put(ctx, docs[i:min(i+64, len(docs))]); err != nil {
				b.Fatal(err)
			}
		}
		settled()
		sweep := func(what string) {
			b.StartTimer()
			w0, c0 := time.Now(), cpuTime()
			removed, err := x.SweepVocabulary(ctx)
			wall, cpu := time.Since(w0), cpuTime()-c0
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(wall.Milliseconds()), what+"-ms")
			b.ReportMetric(float64(cpu.Milliseconds()), what+"-cpums")
			b.ReportMetric(float64(removed), what+"-removed")
		}
		sweep("held")
		if err := x.DeleteUser(ctx, "u0"); err != nil {
			b.Fatal(err)
		}
		sweep("user")
		for u := range users {
			if err := x.DeleteUser(ctx, "u"+strconv.Itoa(u)); err != nil {
				b.Fatal(err)
			}
		}
		sweep("all")
		if err := x.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
