package testkit

import (
	"context"
	"log/slog"
	"slices"
	"sync"
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
