package indexer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// Options configure a Service.
type Options struct {
	Store     *store.Store
	Index     search.Index
	Converter *convert.Converter
	// Deferred converts and indexes deliveries in the background
	// (isc.mode = "deferred"); otherwise a delivery is converted and
	// indexed before the LMTP reply (isc.mode = "immediate"). Appends,
	// copies and moves are always indexed in the background.
	Deferred bool
	// Groups name the index queues this host sweeps: the mailHost values
	// its users may carry (its store affinity group's name and hosts, and
	// ""). Nil sweeps "" only.
	Groups []string
	Logger *slog.Logger
	// Workers is the number of background catch-ups at once (default 2).
	Workers int
	// Batch is the number of documents per index request (default 100).
	Batch int
	// Delay is how long a background catch-up waits after its mailbox
	// was queued, so that a stream of deliveries is indexed in batches
	// (default 500 ms).
	Delay time.Duration
	// Margin: a catch-up clears only marks older than its start less
	// Margin, so that a commit still in flight when it read the mailbox
	// keeps its mark (default 2 minutes). Marks older than Margin are
	// swept; younger ones belong to the host that made them.
	Margin time.Duration
	// SweepEvery is the interval between sweeps of the index queue
	// (default 30 s). The first sweep, at start, takes every mark.
	SweepEvery time.Duration
	// MaxMessage bounds the bytes of one message read for indexing
	// (default 64 MiB); the rest is not indexed.
	MaxMessage int64
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Delay <= 0 {
		o.Delay = 500 * time.Millisecond
	}
	if o.Margin <= 0 {
		o.Margin = 2 * time.Minute
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 30 * time.Second
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 64 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Service keeps the full-text index following the store: it is the
// store's IndexHook. It is safe for concurrent use.
//
// Invariants:
//   - A mailbox's mark (search.Mark) only moves over messages whose
//     documents are written, in the same index request.
//   - Catch-ups of one mailbox on one host run one at a time (striped
//     locks); on several hosts they may overlap, which writes the same
//     documents twice and is harmless.
//   - No failure of conversion or indexing fails the change that caused
//     it: the mark stays, and a later catch-up or sweep retries.
type Service struct {
	o     Options
	log   *slog.Logger
	locks [64]sync.Mutex

	mu      sync.Mutex
	pending map[string]queued // mailbox ID -> mailbox, awaiting a background catch-up
	order   []string          // FIFO of pending mailbox IDs
	wake    chan struct{}
	deletes chan func(context.Context) error

	stats *counters
}

var _ store.IndexHook = (*Service)(nil)

// New returns a Service; Run starts its background work.
func New(o Options) *Service {
	o = o.withDefaults()
	return &Service{
		o: o, log: o.Logger, pending: map[string]queued{},
		wake: make(chan struct{}, 1), deletes: make(chan func(context.Context) error, 4096),
		stats: newCounters(),
	}
}

// Added implements store.IndexHook: a delivery in immediate mode is
// indexed now, within ctx; anything else is queued.
func (s *Service) Added(ctx context.Context, mb store.Mailbox, _ []mail.UID, delivery bool) {
	if delivery && !s.o.Deferred {
		// A few batches at most before the reply: a backlog (after a
		// restart, or with the index down) goes to the background rather
		// than past the LMTP client's timeout.
		_, more, err := s.catchUp(ctx, mb, false, immediateBatches, nil)
		if err == nil && !more {
			return
		}
		if err != nil && ctx.Err() == nil {
			s.failed(mb, err)
		}
	}
	s.enqueue(mb)
}

// Expunged implements store.IndexHook: the documents go in the
// background. A document left behind is never a result (SEARCH keeps
// only live messages); it costs space until the mailbox is reindexed.
func (s *Service) Expunged(mb store.Mailbox, uids []mail.UID) {
	us := make([]uint32, len(uids))
	for i, u := range uids {
		us[i] = uint32(u)
	}
	s.background("delete expunged documents", func(ctx context.Context) error {
		return s.o.Index.Delete(ctx, mb.UserID, mb.ID, us)
	})
}

// MailboxDeleted implements store.IndexHook.
func (s *Service) MailboxDeleted(mb store.Mailbox) {
	s.background("delete a mailbox's documents", func(ctx context.Context) error {
		return s.o.Index.DeleteMailbox(ctx, mb.UserID, mb.ID)
	})
}

// UserDeleted implements store.IndexHook.
func (s *Service) UserDeleted(u store.User) {
	s.background("delete a user's documents", func(ctx context.Context) error {
		return s.o.Index.DeleteUser(ctx, u.ID)
	})
}

func (s *Service) background(what string, fn func(context.Context) error) {
	select {
	case s.deletes <- fn:
	default:
		s.stats.dropped.Add(1)
		s.log.Warn("indexer: deletion queue full; documents left behind until a reindex", "op", what)
	}
}

// queued is a mailbox awaiting a background catch-up, from when.
type queued struct {
	mb   store.Mailbox
	when time.Time
}

func (s *Service) enqueue(mb store.Mailbox) {
	s.mu.Lock()
	if _, ok := s.pending[mb.ID]; !ok {
		s.pending[mb.ID] = queued{mb, s.o.Now()}
		s.order = append(s.order, mb.ID)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest pending mailbox, and when it was queued.
func (s *Service) next() (queued, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.order) == 0 {
		return queued{}, false
	}
	id := s.order[0]
	s.order = s.order[1:]
	q := s.pending[id]
	delete(s.pending, id)
	return q, true
}

// Run does the background work until ctx ends: catch-ups of queued
// mailboxes, deletions, and sweeps of the index queue.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.o.Workers {
		wg.Go(func() {
			for {
				q, ok := s.next()
				if !ok {
					select {
					case <-ctx.Done():
						return
					case <-s.wake:
						continue
					}
				}
				// Let a busy mailbox's messages gather into one batch.
				if wait := time.Until(q.when.Add(s.o.Delay)); wait > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(wait):
					}
				}
				_, _ = s.CatchUp(ctx, q.mb)
				select { // pass the wake-up on: more may be pending
				case s.wake <- struct{}{}:
				default:
				}
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case fn := <-s.deletes:
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					s.stats.errors.Add(1)
					s.log.Warn("indexer: deleting documents failed; they stay until a reindex", "err", err)
				}
			}
		}
	})
	wg.Go(func() {
		all := true // the first sweep takes every mark: this host may have just restarted
		t := time.NewTicker(s.o.SweepEvery)
		defer t.Stop()
		for {
			if err := s.Sweep(ctx, all); err != nil && ctx.Err() == nil {
				s.log.Warn("indexer: sweeping the index queue failed", "groups", s.o.Groups, "err", err)
			}
			all = false
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	wg.Wait()
}

// Sweep queues a catch-up for each mark of the host's groups older than
// Margin, or for every mark when all is set, and returns once they are
// queued.
func (s *Service) Sweep(ctx context.Context, all bool) error {
	cutoff := s.o.Now().Add(-s.o.Margin)
	n := 0
	groups := s.o.Groups
	if len(groups) == 0 {
		groups = []string{""}
	}
	for _, g := range groups {
		err := s.o.Store.Backend().Unindexed(ctx, g, func(u store.Unindexed) error {
			n++
			if all || u.Marked.Before(cutoff) {
				s.enqueue(store.Mailbox{ID: u.MailboxID, UserID: u.UserID, MailHost: u.Group})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	s.stats.marks.Store(int64(n))
	return nil
}

// CatchUp indexes every message of mb above its mark and returns how many
// it indexed. It clears mb's unindexed mark if it was made Margin before
// the catch-up began.
func (s *Service) CatchUp(ctx context.Context, mb store.Mailbox) (int, error) {
	n, _, err := s.catchUp(ctx, mb, false, 0, nil)
	if err != nil && ctx.Err() == nil {
		s.failed(mb, err)
	}
	return n, err
}

func (s *Service) failed(mb store.Mailbox, err error) {
	s.stats.errors.Add(1)
	s.log.Warn("indexer: catching up failed; the mailbox stays queued", "user", mb.UserID, "mailbox", mb.ID, "err", err)
}

// immediateBatches bounds the batches a delivery indexes before its reply.
const immediateBatches = 2

// catchUp is CatchUp, from the first message when all is set (the mark
// may not be gone yet from what the index shows), for at most limit
// batches (0: all; more reports that some are left), calling progress
// after each batch.
func (s *Service) catchUp(ctx context.Context, mb store.Mailbox, all bool, limit int, progress func(int)) (n int, more bool, err error) {
	l := &s.locks[stripe(mb.ID)]
	l.Lock()
	defer l.Unlock()
	start := s.o.Now()
	s.stats.catchUps.Add(1)
	mark, err := s.o.Index.Indexed(ctx, mb.UserID, mb.ID)
	if err != nil {
		return 0, false, err
	}
	if all {
		mark = 0
	}
	lo := mail.UID(mark) + 1
	for batches := 0; ; batches++ {
		if limit > 0 && batches == limit {
			return n, true, nil // the queue mark stays for the rest
		}
		rows, err := s.rowsFrom(ctx, mb, lo)
		if err != nil {
			if errors.Is(err, mail.ErrNoSuchMailbox) {
				break // deleted since: nothing to index, and its mark may go
			}
			return n, false, err
		}
		if len(rows) == 0 {
			break
		}
		if rows, err = s.fillGaps(ctx, mb, lo, rows); err != nil {
			return n, false, err
		}
		docs, err := s.docs(ctx, mb, rows)
		if err != nil {
			return n, false, err
		}
		last := rows[len(rows)-1].UID
		if err := s.o.Index.Put(ctx, docs, search.Mark{UserID: mb.UserID, MailboxID: mb.ID, UID: uint32(last)}); err != nil {
			return n, false, err
		}
		s.log.Debug("indexer: batch", "mailbox", mb.ID, "from", lo, "first", rows[0].UID, "last", last, "n", len(rows))
		now := s.o.Now()
		for _, r := range rows {
			s.stats.indexed(now.Sub(r.Meta.SaveDate))
		}
		n += len(rows)
		if progress != nil {
			progress(len(rows))
		}
		lo = last + 1
	}
	err = s.o.Store.Backend().ClearUnindexed(ctx, store.Unindexed{Group: mb.MailHost, UserID: mb.UserID, MailboxID: mb.ID}, start.Add(-s.o.Margin))
	return n, false, err
}

// fillGaps reads the range [lo, last row] again, a moment later, when the
// batch skips UIDs in it: the mark will pass over them, so a message the
// scan missed would never be indexed. Expunged messages leave such gaps
// too, and cost the second read only. It returns the rows of the second
// read, a later snapshot of the same range.
func (s *Service) fillGaps(ctx context.Context, mb store.Mailbox, lo mail.UID, rows []store.MessageRow) ([]store.MessageRow, error) {
	last := rows[len(rows)-1].UID
	if int(last-lo)+1 == len(rows) {
		return rows, nil // gapless
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(gapWait):
	}
	var again []store.MessageRow
	err := s.o.Store.Messages(ctx, mb, lo, last, func(r store.MessageRow) error {
		again = append(again, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.stats.rereads.Add(1)
	if len(again) > len(rows) {
		s.stats.found.Add(int64(len(again) - len(rows)))
		s.log.Info("indexer: a second read of a batch found messages the first missed", "mailbox", mb.ID,
			"from", lo, "to", last, "first", len(rows), "second", len(again))
	}
	return again, nil
}

// gapWait is how long fillGaps waits before its second read.
const gapWait = 50 * time.Millisecond

// errBatchFull stops a row scan once a batch is read.
var errBatchFull = errors.New("batch full")

// rowsFrom reads up to Batch rows of mb from UID lo, so that no backend
// cursor stays open while messages are converted.
func (s *Service) rowsFrom(ctx context.Context, mb store.Mailbox, lo mail.UID) ([]store.MessageRow, error) {
	var rows []store.MessageRow
	err := s.o.Store.Messages(ctx, mb, lo, 0, func(r store.MessageRow) error {
		rows = append(rows, r)
		if len(rows) == s.o.Batch {
			return errBatchFull
		}
		return nil
	})
	if errors.Is(err, errBatchFull) {
		err = nil
	}
	return rows, err
}

// docs builds the documents of rows on every core: reading, parsing and
// converting dominate indexing, and messages are independent.
func (s *Service) docs(ctx context.Context, mb store.Mailbox, rows []store.MessageRow) ([]search.Doc, error) {
	docs := make([]search.Doc, len(rows))
	errs := make([]error, len(rows))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(rows)) {
		wg.Go(func() {
			for i := range next {
				docs[i], errs[i] = s.doc(ctx, mb, rows[i])
			}
		})
	}
	for i := range rows {
		next <- i
	}
	close(next)
	wg.Wait()
	return docs, errors.Join(errs...)
}

// doc reads one message and builds its document. A body that cannot be
// read fails the catch-up (it is retried); content that cannot be
// converted does not (the converter salvages what it can).
func (s *Service) doc(ctx context.Context, mb store.Mailbox, r store.MessageRow) (search.Doc, error) {
	blob, err := s.o.Store.OpenBody(ctx, r.Meta)
	if err != nil {
		return search.Doc{}, fmt.Errorf("indexer: open message %d of %s: %w", r.UID, mb.ID, err)
	}
	defer blob.Close()
	raw := make([]byte, min(blob.Size(), s.o.MaxMessage))
	if n, err := blob.ReadAt(raw, 0); n < len(raw) && err != nil && !errors.Is(err, io.EOF) {
		return search.Doc{}, fmt.Errorf("indexer: read message %d of %s: %w", r.UID, mb.ID, err)
	}
	root, err := message.Unmarshal(r.Meta.Structure)
	if err != nil {
		root = nil // scanned from raw, as SEARCH does
	}
	return Doc(ctx, s.o.Converter, mb.UserID, mb.ID, uint32(r.UID), raw, root), nil
}

func stripe(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % 64)
}

// Reindex rebuilds the index of one user from the store: it removes the
// user's documents and marks, then indexes every mailbox. progress, if
// set, is called with the messages done and the total, after each batch.
// SEARCH stays correct meanwhile: messages above a mark (all of them,
// at first) are searched without the index.
func (s *Service) Reindex(ctx context.Context, u store.User, progress func(done, total int64)) error {
	mbs, err := s.o.Store.Mailboxes(ctx, u)
	if err != nil {
		return err
	}
	var total, done int64
	for _, mb := range mbs {
		h, err := s.o.Store.Status(ctx, mb)
		if err != nil {
			return err
		}
		total += h.Messages
	}
	// Marks go to 0 before the documents go, in that order, so that a
	// SEARCH meanwhile never trusts a mark over deleted documents.
	zero := make([]search.Mark, len(mbs))
	for i, mb := range mbs {
		zero[i] = search.Mark{UserID: u.ID, MailboxID: mb.ID}
	}
	if err := s.o.Index.Put(ctx, nil, zero...); err != nil {
		return err
	}
	if err := s.o.Index.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	if progress != nil {
		progress(0, total)
	}
	for _, mb := range mbs {
		_, _, err := s.catchUp(ctx, mb, true, 0, func(n int) {
			done += int64(n)
			if progress != nil {
				progress(done, max(total, done))
			}
		})
		if err != nil {
			return fmt.Errorf("indexer: reindex %s of %s: %w", mb.Name, u.Address, err)
		}
	}
	return nil
}

// Stats returns the indexer's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	queued := len(s.order)
	s.mu.Unlock()
	return s.stats.snapshot(queued)
}
