package benchkit

import (
	"context"
	"testing"
	"time"
)

func TestCPUTimes(t *testing.T) {
	busy, total, err := cpuTimes()
	if err != nil {
		t.Fatal(err)
	}
	if total == 0 || busy > total {
		t.Fatalf("busy %d of total %d ticks", busy, total)
	}
}

func TestWaitQuietLimit(t *testing.T) {
	// A busy fraction of -1 is never reached: WaitQuiet returns at limit.
	waited, busy, err := WaitQuiet(context.Background(), -1, 50*time.Millisecond, 120*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if waited < 120*time.Millisecond || busy < 0 || busy > 1 {
		t.Fatalf("waited %v, busy %.2f", waited, busy)
	}
}
