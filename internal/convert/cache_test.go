package convert

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

type memCache struct {
	mu sync.Mutex
	m  map[string][2]string
}

func (m *memCache) GetText(_ context.Context, h []byte) (string, string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.m[string(h)]
	return v[0], v[1], ok, nil
}

func (m *memCache) PutText(_ context.Context, h []byte, kind, text string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[string(h)] = [2]string{kind, text}
	return nil
}

// TestCacheOncePerContent: one attachment converted for 50 recipients, under
// different names, is converted once: 1 miss, 49 hits.
func TestCacheOncePerContent(t *testing.T) {
	cache := &memCache{m: map[string][2]string{}}
	c := New(Options{Cache: cache})
	data := docxFile(t)
	var first string
	for i := range 50 {
		name := "copy" + strings.Repeat("x", i) + ".docx"
		r := c.Convert(context.Background(), "", "", name, data)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		body := strings.TrimPrefix(r.Text, name+"\n")
		if i == 0 {
			first = body
		} else if body != first {
			t.Fatalf("cached text %q differs from converted %q", body, first)
		}
	}
	s := c.Stats()
	if s.CacheMisses != 1 || s.CacheHits != 49 || s.Conversions[KindDOCX] != 1 || s.BytesIn != int64(len(data)) {
		t.Fatalf("stats %+v", s)
	}
	// The charset is part of the key: the same bytes in another charset
	// are another text.
	c.Convert(context.Background(), "text/plain", "iso-8859-1", "", []byte("caf\xe9"))
	r := c.Convert(context.Background(), "text/plain", "koi8-r", "", []byte("caf\xe9"))
	if r.Text == "café" {
		t.Fatal("the cache served Latin-1 text for KOI8-R bytes")
	}
}

func TestStatsCountFailures(t *testing.T) {
	c := New(Options{})
	c.Convert(context.Background(), "", "", "x.docx", []byte("not a zip"))
	c.Convert(context.Background(), "text/html", "", "", []byte("<p>x</p>"))
	s := c.Stats()
	if s.Failures[KindDOCX] != 1 || s.Conversions[KindDOCX] != 1 || s.Conversions[KindHTML] != 1 || s.Failures[KindHTML] != 0 {
		t.Fatalf("stats %+v", s)
	}
	if s.LatencyP50 < 0 || s.LatencyP99 < s.LatencyP50 {
		t.Fatalf("latencies %+v", s)
	}
}

// TestCacheConcurrentOnce: fifty conversions of one attachment at the same
// moment (a delivery's recipients are filed concurrently) convert it once.
func TestCacheConcurrentOnce(t *testing.T) {
	c := New(Options{Cache: &memCache{m: map[string][2]string{}}})
	data := docxFile(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			if r := c.Convert(context.Background(), "", "", "same.docx", data); r.Err != nil || !strings.Contains(r.Text, "zeppelin") {
				t.Errorf("got %+v", r)
			}
		})
	}
	close(start)
	wg.Wait()
	if s := c.Stats(); s.CacheMisses != 1 || s.CacheHits != 49 || s.Conversions[KindDOCX] != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCacheFailedOnce: content that fails to convert fails the same way
// every time, so the failure is cached: a damaged attachment to many
// recipients, or met again by the indexer after its delivery, is tried
// once. Each answer is still a failure, the file name its text.
func TestCacheFailedOnce(t *testing.T) {
	c := New(Options{Cache: &memCache{m: map[string][2]string{}}})
	for i := range 3 {
		r := c.Convert(context.Background(), "", "", "broken.docx", []byte("not a zip"))
		if r.Err == nil || r.Text != "broken.docx" || r.Kind != KindDOCX {
			t.Fatalf("conversion %d: %+v, want a DOCX failure with the file name as text", i, r)
		}
		if i > 0 && !errors.Is(r.Err, ErrFailedBefore) {
			t.Fatalf("conversion %d: %v, want ErrFailedBefore", i, r.Err)
		}
	}
	if s := c.Stats(); s.Conversions[KindDOCX] != 1 || s.Failures[KindDOCX] != 1 || s.CacheHits != 2 {
		t.Fatalf("stats %+v, want one failed conversion and two cache hits", s)
	}
}

// TestCacheTimeoutNotCached: a conversion that ran out of time says
// nothing about the content: the next one converts again.
func TestCacheTimeoutNotCached(t *testing.T) {
	c := New(Options{Cache: &memCache{m: map[string][2]string{}}})
	data := docxFile(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := c.Convert(ctx, "", "", "a.docx", data); r.Err == nil {
		t.Fatalf("with its context ended: %+v, want a failure", r)
	}
	if r := c.Convert(context.Background(), "", "", "a.docx", data); r.Err != nil {
		t.Fatalf("after a timed-out conversion: %v", r.Err)
	}
	if s := c.Stats(); s.Conversions[KindDOCX] != 2 {
		t.Fatalf("stats %+v, want two conversions", s)
	}
}
