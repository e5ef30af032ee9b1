package indexer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/search"
	bleveindex "github.com/quiremail/quire/internal/search/bleve"
)

// BenchmarkSweepVocabulary measures what sweeping the embedded index's
// vocabulary costs, in wall and CPU time: the messages of the benchmark
// corpus (QUIRE_BENCH_MBOX, or QUIRE_BENCH_N messages of gen_mbox.py,
// default 5,000) spread over 10 users, indexed in batches of 64; then a
// sweep that finds every word held (what a periodic sweep costs), a
// sweep after one user is deleted, and one after every user is (which
// removes every word: the vocabulary's size in words). put-max-ms is the
// longest a one-document Put took in a second without a sweep, and
// put-max-sweeping-ms the longest during the sweep after the user's
// deletion (done again for it): what a sweep makes Puts wait.
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
		// The same sweep again, while one-document Puts run: the longest
		// a Put took, against the longest without a sweep.
		for i := 0; i < len(docs); i += users * 64 {
			var part []search.Doc
			for j := i; j < min(i+users*64, len(docs)); j += users {
				part = append(part, docs[j])
			}
			if err := x.Put(ctx, part); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(probePuts(b, x, func() { time.Sleep(time.Second) }).Microseconds())/1000, "put-max-ms")
		if err := x.DeleteUser(ctx, "u0"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(probePuts(b, x, func() {
			if _, err := x.SweepVocabulary(ctx); err != nil {
				b.Fatal(err)
			}
		}).Microseconds())/1000, "put-max-sweeping-ms")
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

// probePuts puts one small document at a time until during returns, and
// returns the longest a Put took.
func probePuts(b *testing.B, x *bleveindex.Index, during func()) time.Duration {
	var longest time.Duration
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for uid := uint32(1); ; uid++ {
			select {
			case <-stop:
				return
			default:
			}
			t0 := time.Now()
			if err := x.Put(context.Background(), []search.Doc{{UserID: "probe", MailboxID: "m", UID: uid, Body: "a probe of the index"}}); err != nil {
				b.Error(err)
				return
			}
			longest = max(longest, time.Since(t0))
		}
	}()
	during()
	close(stop)
	<-done
	return longest
}
