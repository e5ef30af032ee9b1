package netserve

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Backoff bounds between accept retries: the first retry waits minBackoff,
// each further one twice as long, up to maxBackoff (the figures of net/http
// and go-imap's imapserver).
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
	// logEvery rate-limits the accept-error log: one line per period, with
	// the number of errors it stands for.
	logEvery = 10 * time.Second
)

// Listener is a listener whose Accept retries temporary errors (out of file
// descriptors, out of buffers, a connection aborted before it was
// accepted), with backoff, logging them at most once per ten seconds and
// counting them. Accept returns only a connection, net.ErrClosed once the
// listener is closed, or an error that retrying cannot cure.
type Listener struct {
	net.Listener
	log   *slog.Logger
	count *atomic.Uint64 // accept errors, maybe shared with a Server

	done      chan struct{} // closed by Close: a backoff sleep ends early
	closeOnce sync.Once
	logged    throttle // of the accept-error log
}

// NewListener wraps ln; log may be nil (errors are then only counted).
func NewListener(ln net.Listener, log *slog.Logger) *Listener {
	return newListener(ln, log, new(atomic.Uint64))
}

func newListener(ln net.Listener, log *slog.Logger, count *atomic.Uint64) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: ln, log: log, count: count, done: make(chan struct{})}
}

// Accept waits for a connection; see Listener for the errors it retries.
func (l *Listener) Accept() (net.Conn, error) {
	var delay time.Duration
	for {
		nc, err := l.Listener.Accept()
		if err == nil {
			return nc, nil
		}
		if l.closed() || errors.Is(err, net.ErrClosed) {
			return nil, net.ErrClosed
		}
		if !Temporary(err) {
			return nil, err
		}
		l.count.Add(1)
		delay = min(max(2*delay, minBackoff), maxBackoff)
		l.logError(err, delay)
		select {
		case <-time.After(delay):
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
}

// Close closes the listener and ends a backoff in progress.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Errors returns how many accept errors were retried.
func (l *Listener) Errors() uint64 { return l.count.Load() }

func (l *Listener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *Listener) logError(err error, delay time.Duration) {
	ok, suppressed := l.logged.allow()
	if !ok {
		return
	}
	l.log.Warn("accept failed; retrying (raise the file descriptor limit, ulimit -n, if this is EMFILE)",
		"addr", l.Addr().String(), "err", err, "retry_in", delay,
		"accept_errors", l.count.Load(), "not_logged_since_last", suppressed)
}

// throttle lets one event a period through (logEvery) and counts the
// others, so a flood of errors or refusals cannot flood the log.
type throttle struct {
	mu   sync.Mutex
	last time.Time // when an event was last let through
	held int       // events since, not let through
}

// allow reports whether this event goes through and, if so, how many were
// held back since the last one that did.
func (t *throttle) allow() (ok bool, held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if !t.last.IsZero() && now.Sub(t.last) < logEvery {
		t.held++
		return false, 0
	}
	held, t.last, t.held = t.held, now, 0
	return true, held
}

// Temporary reports whether an accept error may go away by itself, so the
// accept loop should wait and retry rather than stop serving: a process or
// system file table that is full, memory or socket buffers that ran out, a
// connection the peer aborted before accept, and timeouts.
func Temporary(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// Temporary is deprecated on net.Error, but listeners outside the
	// standard library still use it to mark errors worth retrying.
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}
