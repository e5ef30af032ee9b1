package cassandra

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
)

// failures records what the backend tells an Observer of failed
// statements.
type failures struct {
	mu  sync.Mutex
	got [][2]string // keyspace, kind
}

func (f *failures) Request(bool, time.Duration, error) {}

func (f *failures) Failed(keyspace, kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, [2]string{keyspace, kind})
}

func (f *failures) take() [][2]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

// TestErrorKind: each error the driver returns is sorted into its kind,
// wrapped or not; no row and a caller that gave up are not failures.
func TestErrorKind(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: timeoutErr{}}
	for err, want := range map[error]string{
		nil:               "",
		gocql.ErrNotFound: "",
		context.Canceled:  "",
		&gocql.RequestErrUnavailable{Consistency: gocql.Quorum, Required: 2, Alive: 1}: "unavailable",
		&gocql.RequestErrWriteTimeout{WriteType: "CAS"}:                                "write_timeout",
		&gocql.RequestErrReadTimeout{}:                                                 "read_timeout",
		&gocql.RequestErrCASWriteUnknown{}:                                             "cas_write_unknown",
		&gocql.RequestErrWriteFailure{}:                                                "write_failure",
		&gocql.RequestErrReadFailure{}:                                                 "read_failure",
		&gocql.RequestErrOverloaded{}:                                                  "overloaded",
		&gocql.RequestErrBootstrapping{}:                                               "bootstrapping",
		&gocql.RequestErrSyntax{}:                                                      "invalid",
		&gocql.RequestErrInvalid{}:                                                     "invalid",
		&gocql.RequestErrUnauthorized{}:                                                "invalid",
		gocql.ErrTimeoutNoResponse:                                                     "timeout",
		context.DeadlineExceeded:                                                       "timeout",
		timeout:                                                                        "timeout",
		gocql.ErrNoConnections:                                                         "no_connection",
		gocql.ErrConnectionClosed:                                                      "no_connection",
		gocql.ErrSessionClosed:                                                         "no_connection",
		&net.OpError{Op: "dial", Err: errors.New("connection refused")}:                "no_connection",
		errors.New("something else"):                                                   "other",
	} {
		if got := errorKind(err); got != want {
			t.Errorf("errorKind(%v) = %q, want %q", err, got, want)
		}
		if err == nil {
			continue
		}
		if got := errorKind(fmt.Errorf("cassandra: read user: %w", err)); got != want {
			t.Errorf("errorKind of wrapped %v = %q, want %q", err, got, want)
		}
		if want != "" && !containsKind(want) {
			t.Errorf("kind %q is not among ErrorKinds", want)
		}
	}
}

func containsKind(k string) bool {
	for _, x := range ErrorKinds() {
		if x == k {
			return true
		}
	}
	return false
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// TestFailedStatementsObserved, on the real node: a read the node refuses
// as unavailable (a keyspace of RF 3 read at QUORUM on one node) is told
// to the Observer with its keyspace, once; a user that does not exist is
// no failure; a read on a closed backend is "no_connection".
func TestFailedStatementsObserved(t *testing.T) {
	obs := &failures{}
	b := openPrivate(t, func(o *Options) {
		o.Meta.RF = 3
		o.ReadConsistency, o.ReadFallback = "QUORUM", ""
		o.Observer = obs
	})
	ctx := context.Background()
	if _, err := b.User(ctx, "nobody@example.org"); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("read at QUORUM of an RF 3 keyspace on one node: %v, want unavailable", err)
	}
	if got, want := obs.take(), [][2]string{{b.opts.Meta.Name, "unavailable"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("failures observed %v, want %v", got, want)
	}

	ok := &failures{}
	b2 := openTest(t, func(o *Options) { o.Observer = ok })
	if _, err := b2.User(ctx, "nobody@example.org"); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if got := ok.take(); len(got) != 0 {
		t.Fatalf("an unknown user counted as failures: %v", got)
	}
	b2.Close()
	if _, err := b2.User(ctx, "nobody@example.org"); err == nil {
		t.Fatal("a read on a closed backend succeeded")
	}
	if got, want := ok.take(), [][2]string{{b2.opts.Meta.Name, "no_connection"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("failures observed after Close %v, want %v", got, want)
	}
}
