package convert

import (
	"maps"
	"slices"
	"sync"
	"time"
)

// Stats are a Converter's counters since it started, as GET
// /converter/statistics reports them.
type Stats struct {
	Conversions map[string]int64 `json:"conversions"` // by kind, cache hits excluded
	Failures    map[string]int64 `json:"failures"`    // by kind
	CacheHits   int64            `json:"cache_hits"`
	CacheMisses int64            `json:"cache_misses"`
	BytesIn     int64            `json:"bytes_in"`
	BytesOut    int64            `json:"bytes_out"`
	// Latency of conversions (not of cache hits), in milliseconds, over
	// the last latencyWindow conversions.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP90 float64 `json:"latency_p90_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	// Remote conversions by converter host, hosts' failures, and parts
	// converted in process because no host answered.
	Remote       map[string]int64 `json:"remote,omitempty"`
	RemoteFailed map[string]int64 `json:"remote_failed,omitempty"`
	Fallbacks    int64            `json:"fallbacks"`
	// Panics counts extractors that panicked (logged with the stack; the
	// part is indexed by its name, like any failed conversion).
	Panics      int64  `json:"panics"`
	LastFailure string `json:"last_failure,omitempty"`
}

const latencyWindow = 1024

// counters is the mutable side of Stats.
type counters struct {
	mu   sync.Mutex
	s    Stats
	lat  [latencyWindow]time.Duration
	n    int // conversions recorded in lat, up to latencyWindow
	next int
}

func newCounters() *counters {
	return &counters{s: Stats{Conversions: map[string]int64{}, Failures: map[string]int64{}}}
}

func (c *counters) converted(kind string, in, out int, d time.Duration, failed error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Conversions[kind]++
	if failed != nil {
		c.s.Failures[kind]++
		c.s.LastFailure = failed.Error()
	}
	c.s.BytesIn += int64(in)
	c.s.BytesOut += int64(out)
	c.lat[c.next] = d
	c.next = (c.next + 1) % latencyWindow
	c.n = min(c.n+1, latencyWindow)
}

func (c *counters) remote(host string, failed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := &c.s.Remote
	if failed {
		m = &c.s.RemoteFailed
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[host]++
}

func (c *counters) fallback() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Fallbacks++
}

func (c *counters) panicked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.Panics++
}

func (c *counters) noteFailure(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s.LastFailure = s
}

func (c *counters) cache(hit bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hit {
		c.s.CacheHits++
	} else {
		c.s.CacheMisses++
	}
}

func (c *counters) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.Conversions, s.Failures = maps.Clone(c.s.Conversions), maps.Clone(c.s.Failures)
	s.Remote, s.RemoteFailed = maps.Clone(c.s.Remote), maps.Clone(c.s.RemoteFailed)
	lat := slices.Clone(c.lat[:c.n])
	slices.Sort(lat)
	at := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := max(0, min(int(p*float64(len(lat))+0.5)-1, len(lat)-1))
		return float64(lat[i].Microseconds()) / 1000
	}
	s.LatencyP50, s.LatencyP90, s.LatencyP99 = at(0.50), at(0.90), at(0.99)
	return s
}
