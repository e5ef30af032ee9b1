//go:build quirefaults

package cassandra

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Faults are the test-only faults of the path between a Backend and its
// cluster. They exist only in a build with the quirefaults tag (go test
// -tags quirefaults, or the concurrency checker's -break binary); the
// production build's hook only runs the statement (faults_off.go). Every
// statement and batch the backend sends after Open passes through them
// (Backend.send), so a fault lands where the driver would see it: the
// backend's own code handles it as it would a real one. Tests that use
// them live in files with the same tag and are named TestFault*, which
// scripts/test.sh runs.
type Faults struct {
	// Inject, if set, is asked about each statement before it is sent,
	// and returns what the path to the cluster does to it. It may block
	// (a slow network) and may run other work first (a rival host).
	Inject func(Statement) Fault
	// UncheckedUIDs makes the cluster apply Commit's conditional batch
	// without its condition and report it applied, so hosts racing for a
	// mailbox allocate the same UIDs and overwrite each other's log rows.
	// It proves that bench/checker catches a broken allocation (quire
	// serve of a quirefaults build sets it from
	// QUIRE_TEST_BREAK_UID_ALLOCATION=1).
	UncheckedUIDs bool
}

// Statement is what the fault injector is told of one statement or batch.
type Statement struct {
	N           int64  // this backend's statements so far, this one included
	CQL         string // the statement, or a batch's first
	Batch       bool
	Consistency gocql.Consistency
	CAS         bool // a conditional write (a lightweight transaction)
	// Background: a write nobody waits for (materializing a commit).
	Background bool
}

// Read reports whether s is a SELECT.
func (s Statement) Read() bool { return strings.HasPrefix(strings.TrimSpace(s.CQL), "SELECT") }

// Serial reports whether s reads at a serial level: the read-back that
// settles an uncertain conditional write.
func (s Statement) Serial() bool {
	return s.Consistency == gocql.Serial || s.Consistency == gocql.LocalSerial
}

// Commit reports whether s is Commit's conditional batch (the head and
// the log rows of a mailbox commit).
func (s Statement) Commit() bool {
	return s.CAS && s.Batch && strings.Contains(s.CQL, ".mblog SET uidnext")
}

// Fault is what the path to the cluster does to one statement.
type Fault int

const (
	// Pass: the statement runs and its reply arrives.
	Pass Fault = iota
	// LostReply: the statement runs, and its effects stay, but the reply
	// is lost: the client sees a timeout (a write or read timeout; for a
	// conditional write, at random, a write timeout of type CAS or the
	// "unavailable" Cassandra reports at the commit level after Paxos
	// accepted the proposal).
	LostReply
	// NoResponse: the statement never reaches a coordinator; the client
	// sees gocql.ErrTimeoutNoResponse.
	NoResponse
	// Unavailable: the coordinator refuses the statement before running
	// it, too few replicas being alive (for a conditional write: at the
	// serial level, which is checked first).
	Unavailable
	// Held: the statement waits on a silent coordinator (a node paused
	// or partitioned): the client sees gocql.ErrTimeoutNoResponse, and
	// the statement runs later, when the test calls Backend.ReleaseHeld
	// (the node resumed), on the context it was sent with.
	Held
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "pass"
	case LostReply:
		return "lost reply"
	case NoResponse:
		return "no response"
	case Unavailable:
		return "unavailable"
	case Held:
		return "held"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// InjectedFault is the error a statement returns for an injected fault.
// It wraps the driver's error for it (errors.As finds the gocql type), and
// its text names the fault, so a test can tell an injected failure from
// any other.
type InjectedFault struct {
	Fault Fault
	N     int64 // the statement's number (Statement.N)
	Err   error
}

func (e *InjectedFault) Error() string {
	return fmt.Sprintf("injected fault: %s on statement %d (%v)", e.Fault, e.N, e.Err)
}

func (e *InjectedFault) Unwrap() error { return e.Err }

type faults struct {
	p atomic.Pointer[Faults]
	n atomic.Int64

	mu   sync.Mutex
	held []heldStatement
}

type heldStatement struct {
	st  Statement
	run func() (bool, error)
}

// Released is what a held statement did when it ran at last.
type Released struct {
	Statement Statement
	Applied   bool // a conditional write applied
	Err       error
}

// ReleaseHeld runs the statements held so far (Held), in the order they
// were sent, and reports what each did.
func (b *Backend) ReleaseHeld() []Released {
	f := &b.fault
	f.mu.Lock()
	held := f.held
	f.held = nil
	f.mu.Unlock()
	out := make([]Released, 0, len(held))
	for _, h := range held {
		applied, err := h.run()
		out = append(out, Released{Statement: h.st, Applied: applied, Err: err})
	}
	return out
}

// SetFaults replaces the backend's fault switches.
func (b *Backend) SetFaults(f Faults) { b.fault.p.Store(&f) }

// Statements returns how many statements the backend has sent through the
// fault injector.
func (b *Backend) Statements() int64 { return b.fault.n.Load() }

func (f *faults) get() Faults {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return Faults{}
}

func (f *faults) send(ctx context.Context, b *Backend, s sent, run func() (bool, error)) (bool, error) {
	fs := f.get()
	st := Statement{N: f.n.Add(1), CQL: s.stmt, Batch: s.batch != nil, Consistency: s.c, CAS: s.cas, Background: isBackground(ctx)}
	if fs.UncheckedUIDs && st.Commit() {
		run = func() (bool, error) { return true, unconditional(b, s.batch).ExecContext(ctx) }
	}
	fault := Pass
	if fs.Inject != nil {
		fault = fs.Inject(st)
	}
	injected := func(err error) error { return &InjectedFault{Fault: fault, N: st.N, Err: err} }
	switch fault {
	case NoResponse:
		return false, injected(gocql.ErrTimeoutNoResponse)
	case Held:
		f.mu.Lock()
		f.held = append(f.held, heldStatement{st: st, run: run})
		f.mu.Unlock()
		return false, injected(gocql.ErrTimeoutNoResponse)
	case Unavailable:
		c := s.c
		if s.cas {
			c = b.serial
		}
		return false, injected(&gocql.RequestErrUnavailable{Consistency: c, Required: 2, Alive: 1})
	case LostReply:
		_, _ = run()
		switch {
		case s.cas && st.N%2 == 0:
			return false, injected(&gocql.RequestErrUnavailable{Consistency: s.c, Required: 2, Alive: 1})
		case s.cas:
			return false, injected(&gocql.RequestErrWriteTimeout{Consistency: s.c, BlockFor: 2, WriteType: "CAS"})
		case st.Read():
			return false, injected(&gocql.RequestErrReadTimeout{Consistency: s.c, BlockFor: 2})
		case st.Batch:
			return false, injected(&gocql.RequestErrWriteTimeout{Consistency: s.c, BlockFor: 2, WriteType: "BATCH"})
		}
		return false, injected(&gocql.RequestErrWriteTimeout{Consistency: s.c, BlockFor: 2, WriteType: "SIMPLE"})
	}
	return run()
}

// unconditional is the conditional batch bt without its conditions, at
// consistency ONE: deliberately broken (see Faults.UncheckedUIDs).
func unconditional(b *Backend, bt *gocql.Batch) *gocql.Batch {
	out := b.meta.Batch(gocql.LoggedBatch).Consistency(gocql.One)
	for _, e := range bt.Entries {
		stmt, args := e.Stmt, e.Args
		if i := strings.Index(stmt, " IF "); i >= 0 {
			args = args[:len(args)-strings.Count(stmt[i:], "?")]
			stmt = stmt[:i]
		}
		out.Query(stmt, args...)
	}
	return out
}
