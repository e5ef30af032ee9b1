package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// The purge frees the bodies no message row references any more
// (ARCHITECTURE.md, "Purge"). Bodies are shared (single-instance storage:
// one body for every delivery, COPY and MOVE of the same bytes), so a
// body cannot be freed when one row goes: the purge finds what is
// unreferenced by a mark scan of every live row, and frees a body only
// after two passes at least the grace apart found it unreferenced with no
// new reference claimed in between. The race between the sweep and a new
// reference is closed by the claim protocol below, which needs no
// transaction across partitions.
//
// A writer about to commit a row that points at a body claims the body
// first (PutBlob does, and ClaimBlobs for COPY and MOVE): it records the
// claim durably, then reads whether the body is whole and not condemned,
// and stores it again if it is not. The sweep condemns a body, then reads
// whether it was claimed since it was found unreferenced, and deletes it
// only if not. Each side writes, then reads what the other writes, so at
// least one sees the other: the sweep backs off, or the writer stores the
// body again in a way the deletion cannot remove (the embedded backend
// serializes both under a per-body lock; Cassandra deletes with a write
// timestamp older than any claim that raced it).

// BlobState is what the purge knows of one stored body.
type BlobState struct {
	ID BlobID
	// Bytes is what the body occupies in the backend (compressed).
	Bytes int64
	// Chunks is the number of stored chunks (Cassandra; 0 elsewhere).
	Chunks int
	// Claimed is the time of the last claim of a reference, if the
	// backend records it as a time (Cassandra); zero otherwise (the
	// embedded backend clears Unreferenced on a claim instead).
	Claimed time.Time
	// Unreferenced is when a purge first found the body unreferenced
	// since its last claim; zero if none did.
	Unreferenced time.Time
}

// unreferencedSinceClaim reports whether Unreferenced was recorded after
// the last claim, so that it still stands.
func (st BlobState) unreferencedSinceClaim() bool {
	return !st.Unreferenced.IsZero() && st.Unreferenced.After(st.Claimed)
}

// BlobPurger is implemented by a backend whose unreferenced bodies the
// purge can free. Every method is safe to run while the store serves
// deliveries, and a purge stopped between any two calls (a crash) leaves
// a store whose rows all point at whole bodies; the next purge finishes
// what it left.
type BlobPurger interface {
	// ClaimBlobs claims bodies that are stored already for new references
	// (COPY, MOVE), before the commit that adds them: it records the
	// claim, then makes sure each body is whole and will survive any
	// deletion in progress, storing it again if needed. mail.ErrNoBlob if
	// a body is gone. PutBlob claims the body it stores in the same way.
	ClaimBlobs(ctx context.Context, ids []BlobID) error
	// PurgeBlobs calls fn for each stored body, in no particular order.
	// referenced says whether the current mark scan found a reference; a
	// backend may skip reading the purge state of referenced bodies.
	PurgeBlobs(ctx context.Context, referenced func(BlobID) bool, fn func(BlobState) error) error
	// MarkUnreferenced records that a purge found id unreferenced, at at.
	MarkUnreferenced(ctx context.Context, id BlobID, at time.Time) error
	// ClearUnreferenced forgets a mark of a body found referenced again.
	ClearUnreferenced(ctx context.Context, id BlobID) error
	// CondemnBlob is the first step of a deletion: it records that st's
	// body is being deleted, then reads whether a reference was claimed
	// since st.Unreferenced. ok false: one was, and the body stays.
	CondemnBlob(ctx context.Context, st BlobState) (ok bool, err error)
	// DeleteBlob deletes a condemned body in the backend's order, calling
	// between with the name of each step done; an error from it stops
	// the deletion there, as a crash would, and is returned.
	DeleteBlob(ctx context.Context, st BlobState, between func(step string) error) error
	// PurgeLeftovers finishes what interrupted deletions left (a body
	// file whose record is gone) and returns how many, and their bytes.
	PurgeLeftovers(ctx context.Context) (n, bytes int64, err error)
}

// OrphanPurger is implemented by a backend whose writes can leave pieces
// that nothing will ever reference: what a write stores before the
// record that makes it reachable (body chunks before their header, a body
// file before its key, metadata spilled before the conditional commit
// that may lose), when that record never lands. A write finishes (lands
// or fails) within the grace of its start, so a piece older than the
// grace with no record that reaches it is an orphan (ARCHITECTURE.md,
// "Orphans").
type OrphanPurger interface {
	// PurgeOrphans removes the pieces written before before that no
	// record reaches (with dryRun, counts them); stored reports whether
	// the sweep listed a body, so that its pieces need no further read.
	// A piece written at or after before is never removed.
	PurgeOrphans(ctx context.Context, before time.Time, stored func(BlobID) bool, dryRun bool) (OrphanStats, error)
}

// OrphanStats is what PurgeOrphans found (for a dry run: would remove).
type OrphanStats struct {
	// Chunks of bodies whose header never landed (Cassandra), Files of
	// bodies whose key never landed (embedded), Spills of metadata whose
	// commit lost (Cassandra).
	Chunks, Files, Spills int64
	// Bytes they held, where known without reading them (files).
	Bytes int64
}

// StrayPurger is implemented by a backend that can be left with the rows
// of a mailbox no record reaches: a head written by a creation whose
// record never landed (Cassandra writes the head first), or a mailbox
// created while its user was being deleted, with whatever was appended to
// it since (ARCHITECTURE.md, "Stray mailboxes"). The bodies such rows
// point at need nothing more: the mark scan reads listed mailboxes only.
type StrayPurger interface {
	// PurgeStrays finds the mailboxes whose rows no record reaches, last
	// written before before, that listed (the mailboxes the pass's mark
	// scan read) does not name, and frees their rows (or lists them for
	// the deleted mailboxes' purge); with dryRun it only counts them. It
	// returns how many it found.
	PurgeStrays(ctx context.Context, before time.Time, listed func(mailboxID string) bool, dryRun bool) (int64, error)
}

// MailboxPurger is implemented by a backend that keeps a deleted
// mailbox's rows until the purge drops them (Cassandra; the embedded
// backend deletes them with the mailbox, in one batch).
type MailboxPurger interface {
	// PurgeMailboxes drops the rows of the mailboxes deleted before
	// deletedBefore, and returns how many mailboxes it dropped.
	PurgeMailboxes(ctx context.Context, deletedBefore time.Time) (int64, error)
}

// PurgeLeaser is implemented by a backend that several hosts share
// (Cassandra): RunPurge runs a pass only while this host holds the lease,
// so that the hosts with store.purge.enable do not all scan the store.
// Passes on several hosts at once are safe, only wasteful: a manual
// purge (Purge) takes no lease.
type PurgeLeaser interface {
	// LeasePurge takes or renews the lease for holder, for ttl, and
	// reports whether holder has it.
	LeasePurge(ctx context.Context, holder string, ttl time.Duration) (bool, error)
}

// PendingRefs is implemented by a backend that knows of references not
// (yet) in any row: the Cassandra backend's uncertain-writes ledger,
// whose commits may still land. The mark scan counts them as references.
type PendingRefs interface {
	PendingRefs(ctx context.Context, fn func(BlobID) error) error
}

// PurgeOptions configure one purge pass.
type PurgeOptions struct {
	// Grace is how long a body must have been found unreferenced, with no
	// reference claimed since, before it is freed. It must exceed the
	// longest time between a writer's claim and its commit (a delivery's
	// deadline; ARCHITECTURE.md, "Purge").
	Grace time.Duration
	// DryRun counts what the pass would free and changes nothing.
	DryRun bool
	// LogHistory is how long the change log keeps a change at least
	// (store.purge.log_history; logtrim.go); 0 keeps it forever.
	LogHistory time.Duration
}

// PurgeStats is what a purge pass did. Counts are of bodies.
type PurgeStats struct {
	Started  time.Time
	Duration time.Duration
	DryRun   bool
	// Mailboxes and Messages are what the mark scan read.
	Mailboxes, Messages int64
	// Bodies stored; Referenced of them.
	Bodies, Referenced int64
	// Marked were found unreferenced for the first time; Waiting were
	// found unreferenced before, less than the grace ago.
	Marked, Waiting int64
	// Reclaimed were condemned but claimed again meanwhile, and stay.
	Reclaimed int64
	// Freed bodies and their bytes (for a dry run: what it would free).
	Freed, FreedBytes int64
	// Leftovers of interrupted deletions cleared, and their bytes.
	Leftovers, LeftoverBytes int64
	// DeletedMailboxes whose rows were dropped (MailboxPurger).
	DeletedMailboxes int64
	// LogEntries dropped from the change logs of LogMailboxes mailboxes,
	// older than the history, in LogBuckets whole buckets (Cassandra), and
	// ExpungedRows: the rows of messages expunged at or below the logs'
	// new floors (LogTrimmer). A dry run counts what a real pass at the
	// same moment would drop.
	LogEntries, LogMailboxes, LogBuckets, ExpungedRows int64
	// StrayMailboxes found: rows of mailboxes no record reaches (a
	// creation that failed half-way, or raced its user's deletion;
	// StrayPurger), dropped or handed to the deleted mailboxes' purge.
	StrayMailboxes int64
	// Orphans removed (OrphanPurger).
	Orphans OrphanStats
}

// PurgeTotals sums every pass this Store ran since it started, for the
// metrics: read it with Store.PurgeTotals.
type PurgeTotals struct {
	Passes, Failures       int64
	Freed, FreedBytes      int64
	Leftovers              int64
	DeletedMailboxes       int64
	LogEntries             int64
	ExpungedRows           int64
	StrayMailboxes         int64
	Orphans                int64   // pieces: chunks, files and spilled metadata
	Seconds                float64 // time spent in passes
	Last                   PurgeStats
	LastError              string
	LastFinished, LastFail time.Time
}

// purgeState serializes a Store's passes and keeps its totals.
type purgeState struct {
	run    sync.Mutex // one pass at a time
	mu     sync.Mutex
	totals PurgeTotals
}

// ErrPurgeRunning says a purge pass is running already in this process.
var ErrPurgeRunning = errors.New("store: a purge is already running in this process; try again when it ends")

// PurgeTotals returns the totals of the passes this Store ran.
func (s *Store) PurgeTotals() PurgeTotals {
	s.purge.mu.Lock()
	defer s.purge.mu.Unlock()
	return s.purge.totals
}

// Purge runs one purge pass: a mark scan of every live message, then a
// sweep of the stored bodies (ARCHITECTURE.md, "Purge"). It fails at once
// with ErrPurgeRunning if a pass is running in this Store.
func (s *Store) Purge(ctx context.Context, o PurgeOptions) (PurgeStats, error) {
	p, ok := s.b.(BlobPurger)
	if !ok {
		return PurgeStats{}, errors.New("store: this backend cannot purge")
	}
	if !s.purge.run.TryLock() {
		return PurgeStats{}, ErrPurgeRunning
	}
	defer s.purge.run.Unlock()
	st := PurgeStats{Started: s.opts.Now(), DryRun: o.DryRun}
	err := s.purgePass(ctx, p, o, &st)
	st.Duration = s.opts.Now().Sub(st.Started)
	s.purge.mu.Lock()
	t := &s.purge.totals
	t.Passes++
	t.Seconds += st.Duration.Seconds()
	t.Last = st
	if !o.DryRun {
		t.Freed += st.Freed
		t.FreedBytes += st.FreedBytes + st.LeftoverBytes
		t.Leftovers += st.Leftovers
		t.DeletedMailboxes += st.DeletedMailboxes
		t.LogEntries += st.LogEntries
		t.ExpungedRows += st.ExpungedRows
		t.StrayMailboxes += st.StrayMailboxes
		t.Orphans += st.Orphans.Chunks + st.Orphans.Files + st.Orphans.Spills
		t.FreedBytes += st.Orphans.Bytes
	}
	if err != nil {
		t.Failures++
		t.LastError, t.LastFail = err.Error(), s.opts.Now()
	} else {
		t.LastFinished = s.opts.Now()
	}
	s.purge.mu.Unlock()
	return st, err
}

func (s *Store) purgePass(ctx context.Context, p BlobPurger, o PurgeOptions, st *PurgeStats) error {
	between := func(string) error { return ctx.Err() }
	if !o.DryRun {
		n, bytes, err := p.PurgeLeftovers(ctx)
		st.Leftovers, st.LeftoverBytes = n, bytes
		if err != nil {
			return fmt.Errorf("store: purge: clear leftovers of interrupted deletions: %w", err)
		}
	}
	// The mark scan starts after start: every commit that returned before
	// it is in the rows it reads.
	start := s.opts.Now()
	if mp, ok := s.b.(MailboxPurger); ok && !o.DryRun {
		n, err := mp.PurgeMailboxes(ctx, start.Add(-o.Grace))
		st.DeletedMailboxes = n
		if err != nil {
			return fmt.Errorf("store: purge: drop the rows of deleted mailboxes: %w", err)
		}
	}
	sp, strays := s.b.(StrayPurger)
	var listed map[string]struct{}
	if strays {
		listed = map[string]struct{}{}
	}
	refs, err := s.markReferenced(ctx, o, st, listed)
	if err != nil {
		return err
	}
	referenced := func(id BlobID) bool { _, ok := refs[blobKey(id)]; return ok }
	op, orphans := s.b.(OrphanPurger)
	stored := map[[32]byte]struct{}{}
	err = p.PurgeBlobs(ctx, referenced, func(b BlobState) error {
		if orphans {
			stored[blobKey(b.ID)] = struct{}{}
		}
		st.Bodies++
		if referenced(b.ID) {
			st.Referenced++
			if !b.Unreferenced.IsZero() && !o.DryRun {
				return p.ClearUnreferenced(ctx, b.ID)
			}
			return nil
		}
		switch {
		case !b.unreferencedSinceClaim():
			st.Marked++
			if o.DryRun {
				return nil
			}
			return p.MarkUnreferenced(ctx, b.ID, s.opts.Now())
		case b.Unreferenced.After(start.Add(-o.Grace)):
			st.Waiting++
			return nil
		case o.DryRun:
			st.Freed++
			st.FreedBytes += b.Bytes
			return nil
		}
		ok, err := p.CondemnBlob(ctx, b)
		if err != nil {
			return fmt.Errorf("store: purge: condemn body %s: %w", b.ID, err)
		}
		if !ok {
			st.Reclaimed++
			return nil
		}
		if err := p.DeleteBlob(ctx, b, between); err != nil {
			return fmt.Errorf("store: purge: delete body %s: %w", b.ID, err)
		}
		st.Freed++
		st.FreedBytes += b.Bytes
		return nil
	})
	if err != nil {
		return err
	}
	clear(refs)
	if orphans {
		stored := func(id BlobID) bool { _, ok := stored[blobKey(id)]; return ok }
		st.Orphans, err = op.PurgeOrphans(ctx, start.Add(-o.Grace), stored, o.DryRun)
		if err != nil {
			return fmt.Errorf("store: purge: remove orphaned pieces of writes that never landed: %w", err)
		}
	}
	clear(stored)
	if strays {
		known := func(id string) bool { _, ok := listed[id]; return ok }
		st.StrayMailboxes, err = sp.PurgeStrays(ctx, start.Add(-o.Grace), known, o.DryRun)
		if err != nil {
			return fmt.Errorf("store: purge: drop the rows of mailboxes no record reaches: %w", err)
		}
	}
	return nil
}

// blobKey is a BlobID's 32 bytes: the mark scan's set holds one per
// message, so it keeps them in half the space of the hex.
func blobKey(id BlobID) [32]byte {
	var k [32]byte
	_, _ = hex.Decode(k[:], []byte(id))
	return k
}

// markReferenced returns the bodies every live message of every user
// references, and those the backend knows of pending references to. It
// adds the id of every mailbox it lists to listed, if not nil.
//
// It trims each mailbox's change log to o.LogHistory on the way
// (logtrim.go), after reading its rows: the rows need no log. A dry run
// counts what the trim would drop.
func (s *Store) markReferenced(ctx context.Context, o PurgeOptions, st *PurgeStats, listed map[string]struct{}) (map[[32]byte]struct{}, error) {
	refs := make(map[[32]byte]struct{})
	lt, trim := s.b.(LogTrimmer)
	trim = trim && o.LogHistory > 0
	var users []User
	if err := s.b.ListUsers(ctx, func(u User) error { users = append(users, u); return nil }); err != nil {
		return nil, fmt.Errorf("store: purge: list users: %w", err)
	}
	for _, u := range users {
		mbs, err := s.b.ListMailboxes(ctx, u.ID)
		if err != nil {
			return nil, fmt.Errorf("store: purge: list the mailboxes of %s: %w", u.Address, err)
		}
		for _, mb := range mbs {
			if listed != nil {
				listed[mb.ID] = struct{}{}
			}
			err := s.b.Messages(ctx, mb.ID, 1, 0, func(r MessageRow) error {
				st.Messages++
				refs[blobKey(r.Meta.Blob)] = struct{}{}
				return nil
			})
			if errors.Is(err, mail.ErrNoSuchMailbox) {
				continue // deleted meanwhile: its rows reference nothing
			}
			if err != nil {
				return nil, fmt.Errorf("store: purge: read mailbox %s of %s: %w", mb.Name, u.Address, err)
			}
			st.Mailboxes++
			if !trim {
				continue
			}
			err = s.trimLog(ctx, lt, mb, o.LogHistory, o.DryRun, st)
			if errors.Is(err, mail.ErrNoSuchMailbox) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("store: purge: trim the change log of mailbox %s of %s: %w", mb.Name, u.Address, err)
			}
		}
	}
	if pr, ok := s.b.(PendingRefs); ok {
		err := pr.PendingRefs(ctx, func(id BlobID) error {
			refs[blobKey(id)] = struct{}{}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: purge: read pending references: %w", err)
		}
	}
	return refs, nil
}

// claimBlobs claims the bodies of metas for the rows about to point at
// them (BlobPurger.ClaimBlobs), on a backend that purges.
func (s *Store) claimBlobs(ctx context.Context, metas []MessageMeta) error {
	p, ok := s.b.(BlobPurger)
	if !ok || len(metas) == 0 {
		return nil
	}
	seen := make(map[BlobID]bool, len(metas))
	ids := make([]BlobID, 0, len(metas))
	for _, m := range metas {
		if !seen[m.Blob] {
			seen[m.Blob] = true
			ids = append(ids, m.Blob)
		}
	}
	if err := p.ClaimBlobs(ctx, ids); err != nil {
		if errors.Is(err, mail.ErrNoBlob) {
			return fmt.Errorf("store: a message's body is no longer stored (expunged and purged): %w", err)
		}
		return err
	}
	return nil
}

// RunPurge runs a purge pass every interval until ctx ends, logging what
// each did. The caller supervises it (cmd/quire: internal/supervise).
//
// On a backend shared by several hosts (PurgeLeaser), a pass runs only
// while this Store holds the purge lease, taken and renewed for three
// intervals before each pass: one host purges, and another takes over
// within three intervals of its end.
func (s *Store) RunPurge(ctx context.Context, every time.Duration, o PurgeOptions) {
	t := time.NewTicker(every)
	defer t.Stop()
	holder := newID()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if l, ok := s.b.(PurgeLeaser); ok {
			held, err := l.LeasePurge(ctx, holder, 3*every)
			if err != nil {
				s.log.Warn("store: purge: take the purge lease; the next interval retries", "err", err)
				continue
			}
			if !held {
				s.log.Debug("store: purge: another host holds the purge lease")
				continue
			}
		}
		st, err := s.Purge(ctx, o)
		switch {
		case errors.Is(err, ErrPurgeRunning):
		case err != nil && ctx.Err() == nil:
			s.log.Warn("store: purge pass failed; the next pass retries", "err", err, "freed", st.Freed, "duration", st.Duration)
		case err == nil:
			s.log.Info("store: purge pass", "freed", st.Freed, "freed_bytes", st.FreedBytes,
				"marked", st.Marked, "waiting", st.Waiting, "bodies", st.Bodies, "messages", st.Messages,
				"leftovers", st.Leftovers, "log_entries", st.LogEntries, "expunged_rows", st.ExpungedRows,
				"stray_mailboxes", st.StrayMailboxes,
				"orphans", st.Orphans.Chunks+st.Orphans.Files+st.Orphans.Spills, "duration", st.Duration)
		}
	}
}
