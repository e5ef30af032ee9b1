package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// WaitQuiet waits until the machine's CPUs are at most maxBusy busy (a
// fraction, 0 to 1) over a whole window, for at most limit, and returns
// how long it waited and the last window's busy fraction. A bulk fill
// leaves the stores compacting and merging (Cassandra, Pebble, Lucene,
// bleve) for a while; latencies measured then are the compaction's, not
// the query's, so every target gets the same chance to settle. Reaching
// limit is not an error: the caller reports what it got.
func WaitQuiet(ctx context.Context, maxBusy float64, window, limit time.Duration) (time.Duration, float64, error) {
	t0 := time.Now()
	busy0, total0, err := cpuTimes()
	if err != nil {
		return 0, 0, err
	}
	for {
		select {
		case <-ctx.Done():
			return time.Since(t0), 0, ctx.Err()
		case <-time.After(window):
		}
		busy1, total1, err := cpuTimes()
		if err != nil {
			return 0, 0, err
		}
		frac := 0.0
		if total1 > total0 {
			frac = float64(busy1-busy0) / float64(total1-total0)
		}
		if frac <= maxBusy || time.Since(t0) >= limit {
			return time.Since(t0), frac, nil
		}
		busy0, total0 = busy1, total1
	}
}

// cpuTimes reads the machine's busy and total CPU time, in clock ticks,
// from the first line of /proc/stat (proc(5)): idle and iowait are not
// busy.
func cpuTimes() (busy, total uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %q: %w", line, err)
		}
		if i >= 7 { // guest and guest_nice are already in user and nice
			break
		}
		total += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, total, nil
}
