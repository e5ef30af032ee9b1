package indexer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/search"
	bleveindex "github.com/quiremail/quire/internal/search/bleve"
)

// BenchmarkPut measures what indexing one message costs the embedded
// index, in wall time and in CPU time: while the Puts run (cpu), and
// until the merges they leave are done (settled):
// documents of the benchmark corpus (QUIRE_BENCH_MBOX, an mbox of
// bench/corpus/gen_mbox.py; 500 messages generated when unset), Put in
// batches of QUIRE_BENCH_BATCH (default 64) as the pipeline writes
// them. QUIRE_BENCH_RCPTS (default 1) puts each message in that many
// users' mailboxes in one batch, as a delivery to that many recipients
// does; the batch size counts documents. QUIRE_BENCH_PROFILE names a CPU
// profile of the Puts alone.
func BenchmarkPut(b *testing.B) {
	rcpts, _ := strconv.Atoi(os.Getenv("QUIRE_BENCH_RCPTS"))
	rcpts = max(rcpts, 1)
	var docs []search.Doc
	for _, d := range corpusDocs(b, 500) {
		for r := range rcpts {
			d.UserID = "u" + strconv.Itoa(r)
			docs = append(docs, d)
		}
	}
	batch, _ := strconv.Atoi(os.Getenv("QUIRE_BENCH_BATCH"))
	if batch == 0 {
		batch = 64
	}
	var cpu, settle time.Duration
	if out := os.Getenv("QUIRE_BENCH_PROFILE"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		x, err := bleveindex.Open(filepath.Join(b.TempDir(), "idx"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := cpuTime()
		for i := 0; i < len(docs); i += batch {
			part := docs[i:min(i+batch, len(docs))]
			if err := x.Put(context.Background(), part, search.Mark{UserID: part[0].UserID, MailboxID: "INBOX", UID: part[len(part)-1].UID}); err != nil {
				b.Fatal(err)
			}
		}
		cpu += cpuTime() - c0
		b.StopTimer()
		settle += settled() - c0
		x.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(docs)), "µs/doc")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*len(docs)), "cpuµs/doc")
	b.ReportMetric(float64(settle.Microseconds())/float64(b.N*len(docs)), "settledµs/doc")
}

// settled waits for the merges the Puts left behind, until the process
// spends less than 2% of a core, and returns its CPU time then.
func settled() time.Duration {
	last := cpuTime()
	for {
		time.Sleep(250 * time.Millisecond)
		now := cpuTime()
		if now-last < 5*time.Millisecond {
			return now
		}
		last = now
	}
}

// corpusDocs are the documents of the benchmark corpus, user "u", INBOX,
// UIDs from 1: QUIRE_BENCH_MBOX, or n messages of gen_mbox.py.
func corpusDocs(b *testing.B, n int) []search.Doc {
	path := os.Getenv("QUIRE_BENCH_MBOX")
	if path == "" {
		path = filepath.Join(b.TempDir(), "corpus.mbox")
		gen := filepath.Join("..", "..", "bench", "corpus", "gen_mbox.py")
		if out, err := exec.Command("python3", gen, strconv.Itoa(n), path).CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", gen, err, out)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	c := convert.New(convert.Options{})
	defer c.Close()
	var docs []search.Doc
	for i, m := range bytes.Split(raw, []byte("\nFrom ")) {
		m = m[bytes.IndexByte(m, '\n')+1:] // the "From " line
		docs = append(docs, Doc(context.Background(), c, "u", "INBOX", uint32(i+1), bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n")), nil))
	}
	return docs
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
