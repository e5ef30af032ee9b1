package indexer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
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
	sup   *supervise.Supervisor // recovers panics in catch-ups and loops
}

var _ store.IndexHook = (*Service)(nil)

// New returns a Service; Run starts its background work.
func New(o Options) *Service {
	o = o.withDefaults()
	return &Service{
		o: o, log: o.Logger, pending: map[string]queued{},
		wake: make(chan struct{}, 1), deletes: make(chan func(context.Context) error, 4096),
		stats: newCounters(), sup: supervise.New(supervise.Options{Logger: o.Logger}),
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
	// Each loop runs under the supervisor: a panic is logged, counted in
	// Stats.Panics and the loop restarted after a backoff.
	for range s.o.Workers {
		wg.Go(func() { s.sup.Run(ctx, "indexer: worker", s.work) })
	}
	wg.Go(func() { s.sup.Run(ctx, "indexer: deletions", s.deleteLoop) })
	wg.Go(func() { s.sup.Run(ctx, "indexer: sweeps", s.sweepLoop) })
	wg.Wait()
}

// work runs background catch-ups of queued mailboxes until ctx ends.
func (s *Service) work(ctx context.Context) {
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
}

// deleteLoop runs queued deletions of documents until ctx ends.
func (s *Service) deleteLoop(ctx context.Context) {
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
}

// sweepLoop sweeps the index queue every SweepEvery until ctx ends.
func (s *Service) sweepLoop(ctx context.Context) {
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

// Stats returns the indexer's counters.
func (s *Service) Stats() Stats {
	s.mu.Lock()
	queued := len(s.order)
	s.mu.Unlock()
	st := s.stats.snapshot(queued)
	st.Panics = s.sup.Panics()
	return st
}
