package indexer

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the indexer's counters since start, served as JSON.
type Stats struct {
	Indexed  int64 `json:"indexed"`   // documents written
	CatchUps int64 `json:"catch_ups"` // mailboxes caught up
	Errors   int64 `json:"errors"`    // failed catch-ups and deletions (retried or left to a reindex)
	Dropped  int64 `json:"dropped"`   // deletions dropped on a full queue
	Queued   int   `json:"queued"`    // mailboxes awaiting a background catch-up here
	Marks    int64 `json:"marks"`     // marks in this group's index queue at the last sweep
	// Panics counts panics recovered in catch-ups and in the background
	// loops (each logged with its stack; a loop is restarted).
	Panics int64 `json:"panics"`
	// Rereads counts batches read twice because they skipped UIDs (gaps
	// from expunges, or a scan that missed a message), and Found the
	// messages only the second read saw.
	Rereads int64 `json:"rereads"`
	Found   int64 `json:"found"`
	// Batches counts index requests (Put) of the pipeline, and
	// BatchDocsMax the most documents one of them carried: Indexed /
	// Batches is how many documents, from how many deliveries, shared
	// one request.
	Batches      int64 `json:"batches"`
	BatchDocsMax int64 `json:"batch_docs_max"`
	// LateConversions counts deliveries whose conversion was still under
	// way when the LMTP reply could wait no longer (isc.delivery_wait),
	// or that did not wait for the PDF engine's start: it finished in
	// the background.
	LateConversions int64 `json:"late_conversions"`
	// Lag is how long messages waited between being stored and being
	// indexed, over the last 1,024 indexed (milliseconds).
	LagP50Ms  float64 `json:"lag_p50_ms"`
	LagP99Ms  float64 `json:"lag_p99_ms"`
	LagMaxMs  float64 `json:"lag_max_ms"`
	LastLagMs float64 `json:"last_lag_ms"`
	// VocabularySweeps counts sweeps of the index's vocabulary, and
	// VocabularyRemoved the words they removed (no document held them).
	VocabularySweeps  int64 `json:"vocabulary_sweeps"`
	VocabularyRemoved int64 `json:"vocabulary_removed"`
}

type counters struct {
	docs, catchUps, errors, dropped, marks, rereads, found atomic.Int64
	batches, batchMax, late                                atomic.Int64
	vocabSweeps, vocabRemoved                              atomic.Int64

	mu   sync.Mutex
	lags []time.Duration // ring of the last len(lags) lags
	next int
	full bool
	last time.Duration
}

const lagWindow = 1024

func newCounters() *counters { return &counters{lags: make([]time.Duration, lagWindow)} }

func (c *counters) indexed(lag time.Duration) {
	c.docs.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lags[c.next] = max(lag, 0)
	c.last = c.lags[c.next]
	c.next = (c.next + 1) % len(c.lags)
	c.full = c.full || c.next == 0
}

// batch counts one index request of n documents.
func (c *counters) batch(n int) {
	c.batches.Add(1)
	for {
		m := c.batchMax.Load()
		if int64(n) <= m || c.batchMax.CompareAndSwap(m, int64(n)) {
			return
		}
	}
}

func (c *counters) snapshot(queued int) Stats {
	st := Stats{
		Indexed: c.docs.Load(), CatchUps: c.catchUps.Load(), Errors: c.errors.Load(),
		Dropped: c.dropped.Load(), Queued: queued, Marks: c.marks.Load(), Rereads: c.rereads.Load(), Found: c.found.Load(),
		Batches: c.batches.Load(), BatchDocsMax: c.batchMax.Load(), LateConversions: c.late.Load(),
		VocabularySweeps: c.vocabSweeps.Load(), VocabularyRemoved: c.vocabRemoved.Load(),
	}
	c.mu.Lock()
	n := c.next
	if c.full {
		n = len(c.lags)
	}
	lags := slices.Clone(c.lags[:n])
	st.LastLagMs = ms(c.last)
	c.mu.Unlock()
	if len(lags) > 0 {
		slices.Sort(lags)
		st.LagP50Ms = ms(lags[len(lags)/2])
		st.LagP99Ms = ms(lags[min(len(lags)-1, len(lags)*99/100)])
		st.LagMaxMs = ms(lags[len(lags)-1])
	}
	return st
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
