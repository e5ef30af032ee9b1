package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// server is the quire serve under load.
type server struct {
	t   *benchkit.Target
	log string // its stdout and stderr
}

// result is one mode's run: what happened and what broke.
type result struct {
	mode             string
	started          time.Time
	elapsed          time.Duration
	ops              atomic.Int64 // IMAP commands and LMTP transactions
	appended         atomic.Int64
	delivered        atomic.Int64
	expunged         atomic.Int64
	moved            atomic.Int64
	searched         atomic.Int64
	idles            atomic.Int64
	expungeIssued    atomic.Int64 // NO [EXPUNGEISSUED], documented and allowed
	checkedMessages  int          // tokens searched in the final check
	checkedMailboxes int

	mu         sync.Mutex
	violations []string // during the load
	final      []string // found by the checks after it
	dropped    int      // violations past maxViolations
}

// maxViolations bounds what a broken server can make each list hold.
const maxViolations = 100

// fail records a violation seen during the load.
func (r *result) fail(format string, args ...any) { r.add(&r.violations, format, args...) }

// failFinal records a violation found after the load: the process gone,
// a panic logged, an inconsistency.
func (r *result) failFinal(format string, args ...any) { r.add(&r.final, format, args...) }

func (r *result) add(to *[]string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(*to) < maxViolations {
		*to = append(*to, fmt.Sprintf(format, args...))
	} else {
		r.dropped++
	}
}

func (r *result) failed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.violations) + len(r.final) + r.dropped
}

func (r *result) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "isc.mode = %q: %s, %d operations (%d APPEND, %d LMTP deliveries, %d expunged, %d moved, %d SEARCH, %d IDLE; %d NO [EXPUNGEISSUED])\n",
		r.mode, r.elapsed.Round(time.Second), r.ops.Load(), r.appended.Load(), r.delivered.Load(), r.expunged.Load(),
		r.moved.Load(), r.searched.Load(), r.idles.Load(), r.expungeIssued.Load())
	fmt.Fprintf(&b, "  final check: %d mailboxes, %d messages found by SEARCH BODY of their token\n", r.checkedMailboxes, r.checkedMessages)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations)+len(r.final) == 0 {
		b.WriteString("  no violation: the server is alive, logged no panic and answered consistently\n")
		return b.String()
	}
	fmt.Fprintf(&b, "  %d VIOLATIONS after the load:\n", len(r.final))
	for _, v := range r.final {
		fmt.Fprintf(&b, "    %s\n", v)
	}
	fmt.Fprintf(&b, "  %d VIOLATIONS during the load:\n", len(r.violations)+r.dropped)
	for _, v := range r.violations {
		fmt.Fprintf(&b, "    %s\n", v)
	}
	if r.dropped > 0 {
		fmt.Fprintf(&b, "    ... and %d more\n", r.dropped)
	}
	return b.String()
}
