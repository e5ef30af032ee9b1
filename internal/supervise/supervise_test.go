package supervise

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a fake clock: the supervisor's waits are recorded and end at
// once, and time moves only when the work says so.
type clock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func (c *clock) after(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.t
	return ch
}

// logBuf is a thread-safe buffer for a JSON slog handler.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *logBuf) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func newTest(o Options) (*Supervisor, *clock, *logBuf) {
	var buf logBuf
	o.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	s := New(o)
	c := &clock{t: time.Unix(1e9, 0)}
	s.now, s.after = c.now, c.after
	return s, c, &buf
}

// TestRunRestartsWithBackoff: panics are counted and logged with their
// stack and attributes; the waits double up to Max; Run returns once the
// work returns normally.
func TestRunRestartsWithBackoff(t *testing.T) {
	s, c, logs := newTest(Options{Min: 100 * time.Millisecond, Max: 500 * time.Millisecond})
	calls := 0
	s.Run(context.Background(), "test worker", func(context.Context) {
		calls++
		if calls <= 5 {
			panic("boom")
		}
	}, "user", "u1")
	if calls != 6 || s.Panics() != 5 {
		t.Fatalf("%d calls, %d panics; want 6 and 5", calls, s.Panics())
	}
	want := []time.Duration{100, 200, 400, 500, 500}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(c.waits, want) {
		t.Fatalf("waits %v, want %v", c.waits, want)
	}
	out := logs.String()
	if n := strings.Count(out, `"msg":"internal error: recovered a panic in background work"`); n != 5 {
		t.Fatalf("%d log records, want 5:\n%s", n, out)
	}
	for _, w := range []string{`"level":"ERROR"`, `"work":"test worker"`, `"panic":"panic: boom"`, `"user":"u1"`, `supervise_test.go`} {
		if !strings.Contains(out, w) {
			t.Fatalf("log lacks %s:\n%s", w, out)
		}
	}
}

// TestRunQuietResetsBackoff: a run that lasted Quiet before panicking
// waits Min again.
func TestRunQuietResetsBackoff(t *testing.T) {
	s, c, _ := newTest(Options{Min: time.Second, Max: time.Minute, Quiet: 10 * time.Second})
	calls := 0
	s.Run(context.Background(), "w", func(context.Context) {
		calls++
		switch calls {
		case 1, 2:
		case 3:
			c.advance(10 * time.Second) // a long, healthy run
		case 4:
		default:
			return
		}
		panic(calls)
	})
	want := []time.Duration{time.Second, 2 * time.Second, time.Second, 2 * time.Second}
	if !slices.Equal(c.waits, want) {
		t.Fatalf("waits %v, want %v", c.waits, want)
	}
}

// TestRunStopsWithContext: after ctx ends, a panic is counted but the work
// is not restarted, and a Run waiting to restart returns.
func TestRunStopsWithContext(t *testing.T) {
	s := New(Options{Min: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	done := make(chan struct{})
	go func() {
		s.Run(ctx, "w", func(context.Context) { calls.Add(1); panic("x") })
		close(done)
	}()
	for s.Panics() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel() // Run is waiting its hour
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls, want 1", calls.Load())
	}
}

// TestDo: a panic, in the call or carried back from a goroutine by
// Catch, is an error holding the stack, counted once; a plain error is
// returned and not counted.
func TestDo(t *testing.T) {
	s, _, logs := newTest(Options{})
	plain := errors.New("plain")
	if err := s.Do("w", func() error { return plain }); err != plain || s.Panics() != 0 {
		t.Fatalf("plain error: %v, %d panics", err, s.Panics())
	}
	err := s.Do("w", func() error {
		var a []int
		_ = a[len(a)-1] // index out of range [-1]
		return nil
	}, "mailbox", "m1")
	pe, ok := errors.AsType[*PanicError](err)
	if !ok || !strings.Contains(pe.Error(), "index out of range [-1]") || !bytes.Contains(pe.Stack, []byte("supervise_test.go")) {
		t.Fatalf("Do's error %v (stack %q)", err, pe)
	}
	errc := make(chan error, 1)
	go func() { errc <- Catch(func() error { panic("in a goroutine") }) }()
	carried := <-errc
	if err := s.Do("w", func() error { return errors.Join(plain, carried) }); !errors.Is(err, carried) {
		t.Fatalf("Do lost the carried panic: %v", err)
	}
	if s.Panics() != 2 || !strings.Contains(logs.String(), `"mailbox":"m1"`) {
		t.Fatalf("%d panics, want 2; log:\n%s", s.Panics(), logs.String())
	}
}

// TestConcurrent: many goroutines panic through one Supervisor; every
// panic is counted (run with -race).
func TestConcurrent(t *testing.T) {
	s := New(Options{Min: time.Microsecond, Max: time.Millisecond})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			n := 0
			s.Run(context.Background(), "w", func(context.Context) {
				if n++; n <= 10 {
					panic(n)
				}
			})
			for range 10 {
				_ = s.Do("w", func() error { panic("d") })
			}
		})
	}
	wg.Wait()
	if s.Panics() != 160 {
		t.Fatalf("%d panics, want 160", s.Panics())
	}
}
