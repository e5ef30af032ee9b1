package login

import (
	"sync"
	"testing"
	"time"
)

// TestSetLimits: a reload's new limits delay the next attempt; the
// failures counted before stay counted. Run under -race with attempts in
// flight.
func TestSetLimits(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := NewGuard(GuardOptions{FreeFailures: 5, BaseDelay: time.Second, MaxDelay: 10 * time.Second, Now: c.now})
	for range 3 {
		if d := g.Attempt("u", "1.2.3.4"); d != 0 {
			t.Fatalf("delay %v within the free failures", d)
		}
		g.Failed("u", "1.2.3.4")
	}
	g.SetLimits(1, 3*time.Second)
	// Three failures, one free: the third over it waits 4 s, capped at 3.
	if d := g.Attempt("u", "1.2.3.4"); d != 3*time.Second {
		t.Fatalf("after SetLimits(1, 3s) and 3 failures: delay %v, want 3s", d)
	}
	g.Abandoned("u", "1.2.3.4")
	g.SetLimits(0, 0) // the defaults: 3 free, 15 s
	if d := g.Attempt("u", "1.2.3.4"); d != time.Second {
		t.Fatalf("after SetLimits(0, 0) and 3 failures: delay %v, want 1s", d)
	}
	g.Abandoned("u", "1.2.3.4")

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				if i == 0 {
					g.SetLimits(j%4, time.Duration(j)*time.Millisecond)
					continue
				}
				g.Attempt("v", "5.6.7.8")
				g.Failed("v", "5.6.7.8")
			}
		})
	}
	wg.Wait()
}
