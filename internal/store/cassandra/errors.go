package cassandra

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
)

// transient reports whether err is about availability or time: replicas
// down or slow, a connection lost. Such errors are temporary
// (mail.ErrUnavailable) and worth a retry or a fallback consistency.
func transient(err error) bool {
	var (
		unavail *gocql.RequestErrUnavailable
		wto     *gocql.RequestErrWriteTimeout
		rto     *gocql.RequestErrReadTimeout
		wfail   *gocql.RequestErrWriteFailure
		rfail   *gocql.RequestErrReadFailure
		over    *gocql.RequestErrOverloaded
		boot    *gocql.RequestErrBootstrapping
		cas     *gocql.RequestErrCASWriteUnknown
		nerr    net.Error
	)
	switch {
	case err == nil:
		return false
	case errors.As(err, &unavail), errors.As(err, &wto), errors.As(err, &rto), errors.As(err, &wfail),
		errors.As(err, &rfail), errors.As(err, &over), errors.As(err, &boot), errors.As(err, &cas):
		return true
	case errors.Is(err, gocql.ErrTimeoutNoResponse), errors.Is(err, gocql.ErrConnectionClosed),
		errors.Is(err, gocql.ErrNoConnections), errors.Is(err, gocql.ErrNoStreams),
		errors.Is(err, gocql.ErrUnavailable),
		errors.Is(err, gocql.ErrSessionClosed), errors.Is(err, gocql.ErrNoConnectionsStarted),
		errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &nerr):
		return true
	}
	return false
}

// ErrorKinds are the kinds errorKind sorts the failures of statements
// into, for the metrics (quire_cassandra_errors_total): the coordinator's
// typed replies as gocql returns them, the driver's own failures to reach
// a node, and "other".
func ErrorKinds() []string {
	return []string{"unavailable", "write_timeout", "read_timeout", "timeout", "no_connection", "overloaded",
		"bootstrapping", "write_failure", "read_failure", "cas_write_unknown", "invalid", "other"}
}

// errorKind names what failed in err, one of ErrorKinds; "" for what is
// not a failure of the cluster: no error, no row (gocql.ErrNotFound), or
// the caller giving up (context.Canceled, a client gone).
func errorKind(err error) string {
	if err == nil || errors.Is(err, gocql.ErrNotFound) || errors.Is(err, context.Canceled) {
		return ""
	}
	var nerr net.Error
	isNet := errors.As(err, &nerr)
	// In order: the first that matches names the kind.
	for _, k := range []struct {
		kind  string
		match bool
	}{
		{"unavailable", isA[*gocql.RequestErrUnavailable](err)},
		{"write_timeout", isA[*gocql.RequestErrWriteTimeout](err)},
		{"read_timeout", isA[*gocql.RequestErrReadTimeout](err)},
		{"cas_write_unknown", isA[*gocql.RequestErrCASWriteUnknown](err)},
		{"write_failure", isA[*gocql.RequestErrWriteFailure](err)},
		{"read_failure", isA[*gocql.RequestErrReadFailure](err)},
		{"overloaded", isA[*gocql.RequestErrOverloaded](err)},
		{"bootstrapping", isA[*gocql.RequestErrBootstrapping](err)},
		{"invalid", isA[*gocql.RequestErrSyntax](err) || isA[*gocql.RequestErrInvalid](err) || isA[*gocql.RequestErrUnauthorized](err)},
		{"timeout", errors.Is(err, gocql.ErrTimeoutNoResponse) || errors.Is(err, context.DeadlineExceeded) || isNet && nerr.Timeout()},
		{"no_connection", errors.Is(err, gocql.ErrNoConnections) || errors.Is(err, gocql.ErrConnectionClosed) ||
			errors.Is(err, gocql.ErrNoStreams) || errors.Is(err, gocql.ErrSessionClosed) ||
			errors.Is(err, gocql.ErrNoConnectionsStarted) || errors.Is(err, gocql.ErrUnavailable) || isNet},
	} {
		if k.match {
			return k.kind
		}
	}
	return "other"
}

// isA reports whether err is, or wraps, an error of type T.
func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// lacksReplicas reports whether err proves that too few replicas are
// alive for the consistency level: the coordinator's "unavailable", sent
// before it contacted any replica. It is the only failure that makes a
// query class switch to its fallback level.
//
// A timeout is not: a write, read or Paxos round that timed out ("received
// 2 of 3 required responses") ran with enough replicas alive and merely
// waited for one that was slow, restarting or being convicted; its outcome
// is unknown (the uncertain-outcome path settles it), and a lower level
// would only let the next writes miss replicas that are up. Nor is the
// driver having no host at all (gocql.ErrNoConnections): no level would
// do better. gocql has no per-level check of its own (gocql.ErrUnavailable
// is never returned), so "unavailable" comes from the coordinator only.
func lacksReplicas(err error) bool {
	var unavail *gocql.RequestErrUnavailable
	return errors.As(err, &unavail)
}

// refused reports whether err proves that a conditional write did not
// run: the coordinator refused it before Paxos began. Cassandra checks
// live replicas only for the serial level before it starts; "unavailable"
// at the commit level comes after a quorum accepted the proposal, so that
// write has landed (the next Paxos round completes it). Every other
// failure of a conditional write has an unknown outcome.
func refused(err error) bool {
	var (
		unavail *gocql.RequestErrUnavailable
		over    *gocql.RequestErrOverloaded
		boot    *gocql.RequestErrBootstrapping
		syn     *gocql.RequestErrSyntax
		inv     *gocql.RequestErrInvalid
		auth    *gocql.RequestErrUnauthorized
	)
	if errors.As(err, &unavail) {
		return unavail.Consistency == gocql.Serial || unavail.Consistency == gocql.LocalSerial
	}
	return errors.As(err, &over) || errors.As(err, &boot) ||
		errors.As(err, &syn) || errors.As(err, &inv) || errors.As(err, &auth) ||
		errors.Is(err, gocql.ErrNoConnections) || errors.Is(err, gocql.ErrSessionClosed)
}

// wrap turns a driver error into one that says what failed and what to do.
// Availability errors wrap mail.ErrUnavailable. gocql.ErrNotFound passes
// through for callers to test.
func wrap(op string, c gocql.Consistency, err error) error {
	switch {
	case err == nil || errors.Is(err, gocql.ErrNotFound):
		return err
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("cassandra: %s: %w", op, err)
	case transient(err):
		return mail.Unavailable("cassandra: "+op,
			fmt.Errorf("%s at %s: check that the nodes are up and not overloaded: %w", what(err), c, err))
	}
	return fmt.Errorf("cassandra: %s: %w", op, err)
}

func what(err error) string {
	var u *gocql.RequestErrUnavailable
	if errors.As(err, &u) {
		return fmt.Sprintf("%d of %d replicas alive", u.Alive, u.Required)
	}
	var w *gocql.RequestErrWriteTimeout
	if errors.As(err, &w) {
		return fmt.Sprintf("write timeout (%s, %d of %d acks)", w.WriteType, w.Received, w.BlockFor)
	}
	var r *gocql.RequestErrReadTimeout
	if errors.As(err, &r) {
		return fmt.Sprintf("read timeout (%d of %d responses)", r.Received, r.BlockFor)
	}
	if errors.Is(err, gocql.ErrTimeoutNoResponse) || errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "unavailable"
}

// retryPolicy retries idempotent queries that failed for time or a lost
// connection, on the next host, with jittered exponential backoff. It does
// not retry "unavailable": the fallback consistency handles that at once.
type retryPolicy struct {
	n        int
	min, max time.Duration
}

func (r *retryPolicy) Attempt(q gocql.RetryableQuery) bool {
	if q.Attempts() > r.n {
		return false
	}
	d := min(r.max, r.min<<min(q.Attempts(), 16))
	d = d/2 + rand.N(d/2+1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-q.Context().Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *retryPolicy) GetRetryType(err error) gocql.RetryType {
	var u *gocql.RequestErrUnavailable
	if errors.As(err, &u) || !transient(err) {
		return gocql.Rethrow
	}
	return gocql.RetryNextHost
}
