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
	// Deferred converts deliveries in the background, when the pipeline
	// indexes them (isc.mode = "deferred"). Otherwise (isc.mode =
	// "immediate") a delivery's attachments are converted into the
	// converter's cache before the LMTP reply, for at most DeliveryWait.
	// Either way no client waits for the index: every addition is indexed
	// by the pipeline (pipeline.go), and SEARCH reads the messages above
	// a mailbox's mark meanwhile. Appends, copies and moves are never
	// converted before their reply.
	Deferred bool
	// DeliveryWait bounds how long a delivery's reply waits for its
	// conversion in immediate mode (isc.delivery_wait, default 500 ms); past
	// it the conversion finishes in the background.
	DeliveryWait time.Duration
	// Groups name the index queues this host sweeps: the mailHost values
	// its users may carry (its store affinity group's name and hosts, and
	// ""). Nil sweeps "" only.
	Groups []string
	Logger *slog.Logger
	// Workers is the number of index requests the pipeline builds and
	// writes at once (default 1: on two cores, two writers of batches of
	// 100 indexed fewer documents a second than one of batches of 1,000,
	// and took CPU from deliveries; see docs/ARCHITECTURE.md).
	Workers int
	// Batch is the most documents per index request (default 1,000),
	// from one mailbox or many: a bleve segment or an OpenSearch _bulk
	// costs less per document the larger it is.
	Batch int
	// BatchBytes bounds the message bytes (their sizes) read for one
	// index request (default 64 MiB); a larger message goes alone.
	BatchBytes int64
	// Delay is how long the pipeline lets a queued mailbox wait before
	// its batch is taken, so that the deliveries of that moment share
	// one index request (default 300 ms). It bounds the lag of a lone
	// delivery; under load batches also gather while one is written.
	// Longer waits make fewer, larger batches, which cost less CPU per
	// document and leave more to deliveries (docs/ARCHITECTURE.md).
	Delay time.Duration
	// Margin: a catch-up clears only marks older than its start less
	// Margin, so that a commit still in flight when it read the mailbox
	// keeps its mark (default 2 minutes). Marks older than Margin are
	// swept; younger ones belong to the host that made them.
	Margin time.Duration
	// SweepEvery is the interval between sweeps of the index queue
	// (default 30 s). The first sweep, at start, takes every mark.
	SweepEvery time.Duration
	// VocabularyEvery is the interval between sweeps of the index's
	// vocabulary, when it has one (VocabularySweeper; default 6 hours):
	// the words that deleted messages and mailboxes alone held go.
	// A user's deletion sweeps it at once, in the background.
	VocabularyEvery time.Duration
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
		o.Workers = 1
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 64 << 20
	}
	if o.Delay <= 0 {
		o.Delay = 300 * time.Millisecond
	}
	if o.DeliveryWait <= 0 {
		o.DeliveryWait = 500 * time.Millisecond
	}
	if o.Margin <= 0 {
		o.Margin = 2 * time.Minute
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = 30 * time.Second
	}
	if o.VocabularyEvery <= 0 {
		o.VocabularyEvery = 6 * time.Hour
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
	// vocabWake asks for a sweep of the vocabulary (vocabulary.go).
	vocabWake chan struct{}

	stats   *counters
	written written               // marks the pipeline wrote lately (marks.go)
	bodies  deliveredBodies       // delivered bodies converted lately (deliver.go)
	sup     *supervise.Supervisor // recovers panics in catch-ups and loops
}

var _ store.IndexHook = (*Service)(nil)

// New returns a Service; Run starts its background work.
func New(o Options) *Service {
	o = o.withDefaults()
	return &Service{
		o: o, log: o.Logger, pending: map[string]queued{},
		wake: make(chan struct{}, 1), deletes: make(chan func(context.Context) error, 4096), vocabWake: make(chan struct{}, 1),
		stats: newCounters(), sup: supervise.New(supervise.Options{Logger: o.Logger}),
	}
}

// Added implements store.IndexHook: the mailbox is queued for the
// indexing pipeline. A delivery in immediate mode first has its
// attachments converted into the converter's cache, waiting at most
// DeliveryWait; it never waits for the index.
func (s *Service) Added(ctx context.Context, mb store.Mailbox, added []store.MessageRow, delivery bool) {
	if delivery && !s.o.Deferred {
		s.convertNow(ctx, mb, added)
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

// UserDeleted implements store.IndexHook. Once the documents are gone,
// the vocabulary is swept of the words only they held (vocabulary.go),
// so that a deleted user's words leave the index too.
func (s *Service) UserDeleted(u store.User) {
	s.background("delete a user's documents", func(ctx context.Context) error {
		if err := s.o.Index.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		s.wakeVocabulary()
		return nil
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

// Run does the background work until ctx ends: catch-ups of queued
// mailboxes, deletions, sweeps of the index queue and of the index's
// vocabulary.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	// Each loop runs under the supervisor: a panic is logged, counted in
	// Stats.Panics and the loop restarted after a backoff.
	for range s.o.Workers {
		wg.Go(func() { s.sup.Run(ctx, "indexer: worker", s.work) })
	}
	wg.Go(func() { s.sup.Run(ctx, "indexer: deletions", s.deleteLoop) })
	wg.Go(func() { s.sup.Run(ctx, "indexer: sweeps", s.sweepLoop) })
	wg.Go(func() { s.sup.Run(ctx, "indexer: vocabulary sweeps", s.vocabularyLoop) })
	wg.Wait()
}

// work runs the indexing pipeline's flushes (pipeline.go) until ctx
// ends.
func (s *Service) work(ctx context.Context) {
	for ctx.Err() == nil {
		if !s.flush(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		s.nudge() // pass the wake-up on: more may be pending
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
