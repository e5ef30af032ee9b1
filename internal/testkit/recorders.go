package testkit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Record is one logged record as LogRecorder keeps it: the level, the
// message, and every attribute (the logger's With ones included) as a
// string.
type Record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// LogRecorder keeps every record logged through its Logger, for tests
// that assert what a session logged. It is safe for concurrent use.
type LogRecorder struct {
	mu   sync.Mutex
	recs []Record
}

// Logger returns a logger that records into r at every level.
func (r *LogRecorder) Logger() *slog.Logger { return slog.New(recordHandler{r: r}) }

// Records returns the records with message msg, in order.
func (r *LogRecorder) Records(msg string) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Record
	for _, rec := range r.recs {
		if rec.Msg == msg {
			out = append(out, rec)
		}
	}
	return out
}

type recordHandler struct {
	r     *LogRecorder
	attrs []slog.Attr
}

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recordHandler) Handle(_ context.Context, rec slog.Record) error {
	m := make(map[string]string, len(h.attrs)+rec.NumAttrs())
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	h.r.recs = append(h.r.recs, Record{Level: rec.Level, Msg: rec.Message, Attrs: m})
	return nil
}

func (h recordHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recordHandler{r: h.r, attrs: append(slices.Clip(h.attrs), as...)}
}

// WithGroup is ignored: the servers' loggers use no groups.
func (h recordHandler) WithGroup(string) slog.Handler { return h }

// CommandRecorder is an IMAP or POP3 Observer that keeps what it is told:
// each command's name and status, and the sessions open.
type CommandRecorder struct {
	mu       sync.Mutex
	commands [][2]string
	sessions int
}

// Command records one command.
func (o *CommandRecorder) Command(name, status string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands = append(o.commands, [2]string{name, status})
}

// Session moves the count of sessions.
func (o *CommandRecorder) Session(delta int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sessions += delta
}

// State returns the commands so far, as (name, status), and the sessions
// open.
func (o *CommandRecorder) State() ([][2]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.commands), o.sessions
}

// WaitState polls State until want commands were recorded and no session
// is open (a session's end is told after its last reply), or within
// passed, and returns the last State.
func (o *CommandRecorder) WaitState(want int, within time.Duration) ([][2]string, int) {
	deadline := time.Now().Add(within)
	for {
		cmds, sessions := o.State()
		if (len(cmds) >= want && sessions == 0) || time.Now().After(deadline) {
			return cmds, sessions
		}
		time.Sleep(10 * time.Millisecond)
	}
}
