package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// The change log of a mailbox (Changes) serves CONDSTORE and QRESYNC
// (RFC 7162 3.1.4, 3.2.5.2, 3.2.6) and every session's refresh. Left
// alone it grows by one entry per change forever, so the purge trims it
// to a history (store.purge.log_history; ARCHITECTURE.md, "Change-log
// history"). The lowest MODSEQ the log still covers is the mailbox's log
// floor: Changes(since) is complete for since >= floor, and fails with
// ErrLogTrimmed below it, never returning a silently short list. Callers
// then resynchronize from the message rows, which need no log: a message
// whose flags changed after since has a row MODSEQ above since, and an
// expunged message is one without a row.
//
// The purge maps time to MODSEQ by a mark per mailbox: a pass records the
// head's MODSEQ M after reading it, at time T, so every change at or below
// M was committed before T. A later pass at least the history after T
// trims the log to M and records a new mark. So the log keeps at least
// the history, and at most about twice the history plus a pass interval.

// ErrLogTrimmed reports that Changes was asked for changes since a MODSEQ
// the mailbox's change log no longer reaches back to (it was trimmed to
// the history). The error is a *LogTrimmedError.
var ErrLogTrimmed = errors.New("store: the change log no longer reaches back to that MODSEQ")

// LogTrimmedError is the error Changes returns below the log floor. fn
// may have been called for some changes before it was returned: the
// caller discards them.
type LogTrimmedError struct {
	Mailbox string
	Since   mail.ModSeq
	// Floor is the log floor: Changes is complete from it on.
	Floor mail.ModSeq
}

func (e *LogTrimmedError) Error() string {
	return fmt.Sprintf("store: mailbox %s: the change log starts after MODSEQ %d, changes since %d are no longer recorded (resynchronize from the messages)",
		e.Mailbox, e.Floor, e.Since)
}

func (e *LogTrimmedError) Unwrap() error { return ErrLogTrimmed }

// LogMark is a mailbox's head MODSEQ as a purge pass read it, and when:
// every change at or below ModSeq was committed before At.
type LogMark struct {
	ModSeq mail.ModSeq
	At     time.Time
}

// LogTrimState is what a backend keeps of a mailbox's log trimming.
type LogTrimState struct {
	// Floor is the log floor (0: never trimmed).
	Floor mail.ModSeq
	// Mark is the last mark (zero At: none yet).
	Mark LogMark
}

// LogTrimmer is implemented by a backend whose change log the purge can
// trim. Trimming runs while the store serves: a Changes that races it
// either returns every change after its since or fails with
// ErrLogTrimmed.
type LogTrimmer interface {
	// LogTrim returns the mailbox's trim state.
	LogTrim(ctx context.Context, mailboxID string) (LogTrimState, error)
	// TrimLog drops the log entries with MODSEQ <= r.Upto (0: none),
	// raises the floor to what it dropped (a backend that trims whole
	// buckets may keep entries at or below Upto, and its floor stays below
	// them), drops the materialized rows of messages expunged at or below
	// the floor (Expunged no longer reports them), and records r.Next as
	// the mailbox's mark. It returns what it dropped; with r.DryRun it
	// changes nothing and returns what it would drop. A TrimLog stopped
	// midway leaves a log that Changes serves correctly, and the next one
	// finishes.
	TrimLog(ctx context.Context, mailboxID string, r TrimRequest) (TrimCounts, error)
}

// TrimRequest is one TrimLog of a mailbox.
type TrimRequest struct {
	// Upto: drop the entries with MODSEQ <= Upto (0: none).
	Upto mail.ModSeq
	// Next is the mark to record.
	Next LogMark
	// History is the log history the purge keeps (store.purge.log_history):
	// consecutive trims of a mailbox are at least this far apart, which
	// bounds the deletions a backend may make per trim (0: the least
	// history, an hour).
	History time.Duration
	// DryRun counts what the trim would drop and changes nothing.
	DryRun bool
}

// TrimCounts is what a TrimLog dropped (for a dry run: would drop).
type TrimCounts struct {
	// Entries of the change log, in Buckets whole log buckets (Cassandra;
	// 0 elsewhere).
	Entries, Buckets int64
	// Expunged rows: the materialized rows of messages expunged at or
	// below the floor (store.Expunged's rows).
	Expunged int64
}

// LogFloor returns mb's log floor: Changes from it on is complete.
func (s *Store) LogFloor(ctx context.Context, mb Mailbox) (mail.ModSeq, error) {
	lt, ok := s.b.(LogTrimmer)
	if !ok {
		return 0, nil
	}
	st, err := lt.LogTrim(ctx, mb.ID)
	return st.Floor, err
}

// trimLog runs the log trimming of one mailbox in a purge pass: the first
// pass marks the head, and a pass at least history after the mark trims
// the log to it and marks again. A dry run counts what that trim would
// drop and records no mark.
func (s *Store) trimLog(ctx context.Context, lt LogTrimmer, mb Mailbox, history time.Duration, dryRun bool, st *PurgeStats) error {
	ts, err := lt.LogTrim(ctx, mb.ID)
	if err != nil {
		return err
	}
	if !ts.Mark.At.IsZero() && s.opts.Now().Sub(ts.Mark.At) < history {
		return nil
	}
	if dryRun && ts.Mark.At.IsZero() {
		return nil // a real pass would only mark the head
	}
	h, err := s.b.Head(ctx, mb.ID)
	if err != nil {
		return err
	}
	// The time is taken after the head was read: every commit the head
	// shows returned before it.
	r := TrimRequest{Next: LogMark{ModSeq: h.ModSeq, At: s.opts.Now()}, History: history, DryRun: dryRun}
	if !ts.Mark.At.IsZero() {
		r.Upto = ts.Mark.ModSeq
	}
	n, err := lt.TrimLog(ctx, mb.ID, r)
	if n.Entries > 0 || n.Expunged > 0 {
		st.LogEntries += n.Entries
		st.LogBuckets += n.Buckets
		st.ExpungedRows += n.Expunged
		st.LogMailboxes++
	}
	return err
}

// changesFromFloor is Changes from since, or, when the log no longer
// reaches back to since, from the floor: it reports the floor it read
// from (since, unless trimmed).
func (s *Store) changesFromFloor(ctx context.Context, mailboxID string, since mail.ModSeq, reset func(), fn func(Change) error) (mail.ModSeq, error) {
	err := s.b.Changes(ctx, mailboxID, since, fn)
	var te *LogTrimmedError
	if !errors.As(err, &te) {
		return since, err
	}
	reset()
	return te.Floor, s.b.Changes(ctx, mailboxID, te.Floor, fn)
}
