// Package supervise keeps a process's long-lived background goroutines
// alive: a panic in one is logged with its stack, counted, and the work
// restarted after a backoff, so that a bug met by one user's data never
// ends the process that serves every other user.
//
// Invariants:
//   - No panic escapes Run, Do or Catch; it becomes a log record (at
//     level Error, message starting "internal error", with the stack) and
//     a count in Panics, or a *PanicError for the caller.
//   - Run restarts its function after Min, doubling up to Max while the
//     panics keep coming; a run that lasted Quiet or longer counts as a
//     fresh start and waits Min again.
//   - Run returns when its function returns without panicking, or when
//     its context ends; it never restarts work after the context ended.
//   - The package imports nothing of the project, so that every layer may
//     use it.
//
// Fatal runtime errors (a concurrent map write, running out of memory) are
// not panics and cannot be recovered; they still end the process.
package supervise

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// PanicError is a recovered panic: its value and the stack of the
// goroutine that panicked.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Catch runs fn and returns its error, or a *PanicError if it panicked.
// It is for a goroutine that lives as long as one request (a fan-out
// worker): its caller turns the error into that request's failure.
func Catch(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// Options configure a Supervisor. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Min is the first wait before a restart (default 100 ms); each panic
	// in a row doubles it, up to Max (default 30 s).
	Min, Max time.Duration
	// Quiet is how long a run must last for its panic to be a fresh one,
	// waited for by Min again (default 1 minute).
	Quiet time.Duration
}

// Supervisor runs and restarts background work and counts the panics it
// recovered. It is safe for concurrent use; one Supervisor serves any
// number of goroutines.
type Supervisor struct {
	o      Options
	panics atomic.Int64

	// Tests replace the clock and the wait.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
}

// New returns a Supervisor.
func New(o Options) *Supervisor {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Min <= 0 {
		o.Min = 100 * time.Millisecond
	}
	if o.Max < o.Min {
		o.Max = max(30*time.Second, o.Min)
	}
	if o.Quiet <= 0 {
		o.Quiet = time.Minute
	}
	return &Supervisor{o: o, now: time.Now, after: time.After}
}

// Panics returns the number of panics recovered so far.
func (s *Supervisor) Panics() int64 { return s.panics.Load() }

// Run calls fn until it returns without panicking or ctx ends. After a
// panic it logs and counts it, waits the backoff and calls fn again. name
// says what the work is; attrs (slog key-value pairs: user, mailbox...)
// go with the log record.
func (s *Supervisor) Run(ctx context.Context, name string, fn func(context.Context), attrs ...any) {
	wait := s.o.Min
	for {
		start := s.now()
		err := Catch(func() error { fn(ctx); return nil })
		if err == nil {
			return
		}
		if s.now().Sub(start) >= s.o.Quiet {
			wait = s.o.Min // it ran well for a while: a fresh failure
		}
		s.record(name, err, append(attrs, "restart_in", wait)...)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.after(wait):
		}
		wait = min(2*wait, s.o.Max)
	}
}

// Do runs fn once. If fn panicked, or returned an error that holds a
// *PanicError (from Catch in a goroutine of its own), the panic is logged
// and counted; either way Do returns fn's failure as an error.
func (s *Supervisor) Do(name string, fn func() error, attrs ...any) error {
	err := Catch(fn)
	if _, ok := errors.AsType[*PanicError](err); ok {
		s.record(name, err, attrs...)
	}
	return err
}

func (s *Supervisor) record(name string, err error, attrs ...any) {
	s.panics.Add(1)
	pe, _ := errors.AsType[*PanicError](err)
	var stack string
	if pe != nil {
		stack = string(pe.Stack)
	}
	args := append([]any{"work", name, "panic", err.Error(), "stack", stack}, attrs...)
	s.o.Logger.Error("internal error: recovered a panic in background work", args...)
}
