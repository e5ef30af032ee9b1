package indexer

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// The pipeline indexes queued mailboxes off every client's reply path
// (docs/ARCHITECTURE.md, "Indexing"). Each of Workers flushers takes
// every mailbox queued so far, up to Batch documents in all, and writes
// them in one Index.Put with one mark per mailbox: a bleve batch, or one
// OpenSearch _bulk, for many deliveries (group commit). Deliveries that
// arrive while a batch is written gather for the next one, so batches
// grow with the load and a lone delivery waits only Delay.

// flush indexes what is queued, as one index request, and reports
// whether it took anything. It waits for the first mailbox to be Delay
// old, so that the deliveries of that moment join its batch.
func (s *Service) flush(ctx context.Context) bool {
	s.mu.Lock()
	if len(s.order) == 0 {
		s.mu.Unlock()
		return false
	}
	first := s.pending[s.order[0]].when
	s.mu.Unlock()
	if wait := time.Until(first.Add(s.o.Delay)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
	qs := s.take(s.o.Batch)
	if len(qs) == 0 {
		return false // another flusher took them
	}
	// A panic leaves the batch's mailboxes marked, for the sweep.
	err := s.sup.Do("indexer: batch", func() error {
		s.indexBatch(ctx, qs)
		return nil
	}, "mailboxes", len(qs))
	if err != nil {
		s.stats.errors.Add(1)
	}
	return true
}

// take removes up to n of the oldest pending mailboxes from the queue.
func (s *Service) take(n int) []queued {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = min(n, len(s.order))
	qs := make([]queued, n)
	for i, id := range s.order[:n] {
		qs[i] = s.pending[id]
		delete(s.pending, id)
	}
	s.order = s.order[n:]
	return qs
}

// requeue puts mailboxes with messages left back at the head of the
// queue, keeping when they were first queued: they wait no Delay again.
func (s *Service) requeue(qs []queued) {
	if len(qs) == 0 {
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(qs))
	for _, q := range qs {
		if _, ok := s.pending[q.mb.ID]; !ok {
			s.pending[q.mb.ID] = q
			ids = append(ids, q.mb.ID)
		}
	}
	s.order = append(ids, s.order...)
	s.mu.Unlock()
	s.nudge()
}

// nudge wakes a flusher.
func (s *Service) nudge() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// part is one mailbox's share of a batch.
type part struct {
	q     queued
	docs  []search.Doc
	saved []time.Time // each document's message's save date, for the lag
	mark  search.Mark
	more  bool  // rows above this share remain: queued again
	size  int64 // the messages' bytes
}

// indexBatch indexes the messages above the marks of qs, at most Batch
// documents and about BatchBytes of messages in all, in one index
// request. A mailbox whose rows cannot be read is left out (its
// unindexed mark stays, and the sweep retries it); a failed request
// leaves every mark, likewise.
func (s *Service) indexBatch(ctx context.Context, qs []queued) {
	unlock := s.lockAll(qs)
	defer unlock()
	start := s.o.Now()
	var (
		parts []part
		docs  []search.Doc
		marks []search.Mark
		left  []queued
		size  int64
		// One body's text serves each of its mailboxes (a delivery to
		// many recipients): built once a batch.
		shared = &texts{}
	)
	for _, q := range qs {
		if len(docs) >= s.o.Batch || size >= s.o.BatchBytes {
			left = append(left, q)
			continue
		}
		p, err := s.share(ctx, q, s.o.Batch-len(docs), s.o.BatchBytes-size, shared)
		if err != nil {
			if ctx.Err() == nil {
				s.failed(q.mb, err)
			}
			continue
		}
		parts = append(parts, p)
		docs = append(docs, p.docs...)
		size += p.size
		if p.mark.UID > 0 {
			marks = append(marks, p.mark)
		}
	}
	if len(marks) > 0 {
		if err := s.o.Index.Put(ctx, docs, marks...); err != nil {
			if ctx.Err() == nil {
				s.stats.errors.Add(1)
				s.log.Warn("indexer: an index request failed; its mailboxes stay marked and are retried by the sweep",
					"mailboxes", len(parts), "docs", len(docs), "err", err)
			}
			s.requeue(left)
			return
		}
		s.written.put(marks, s.o.Now())
		s.stats.batch(len(docs))
	}
	now := s.o.Now()
	for _, p := range parts {
		for _, saved := range p.saved {
			s.stats.indexed(now.Sub(saved))
		}
		if p.more {
			left = append(left, p.q)
			continue
		}
		mb := p.q.mb
		err := s.o.Store.Backend().ClearUnindexed(ctx, store.Unindexed{Group: mb.MailHost, UserID: mb.UserID, MailboxID: mb.ID}, start.Add(-s.o.Margin))
		if err != nil && ctx.Err() == nil {
			s.failed(mb, err)
		}
	}
	s.requeue(left)
}

// share reads up to limit messages of q's mailbox above its mark, and
// no more than about bytes of them (one at least), and builds their
// documents, taking the text of bodies texts has already.
func (s *Service) share(ctx context.Context, q queued, limit int, bytes int64, texts *texts) (part, error) {
	mb := q.mb
	p := part{q: q}
	s.stats.catchUps.Add(1)
	mark, err := s.o.Index.Indexed(ctx, mb.UserID, mb.ID)
	if err != nil {
		return p, err
	}
	lo := mail.UID(max(mark, s.written.get(mb.ID, s.o.Now()))) + 1
	rows, err := s.rowsFrom(ctx, mb, lo)
	if errors.Is(err, mail.ErrNoSuchMailbox) {
		return p, nil // deleted since: nothing to index, and its mark may go
	}
	if err != nil {
		return p, err
	}
	if len(rows) == 0 {
		return p, nil
	}
	full := len(rows) == s.o.Batch
	rows, p.size, p.more = cutRows(rows, limit, bytes)
	p.more = p.more || full
	// The share covers [lo, last] of the first read: fillGaps reads that
	// range again, and the mark passes it even if every message of it
	// was expunged in between (no rows left).
	last := rows[len(rows)-1].UID
	if rows, err = s.fillGaps(ctx, mb, lo, rows); err != nil {
		return p, err
	}
	if p.docs, err = s.docs(ctx, mb, rows, texts); err != nil {
		return p, err
	}
	p.saved = make([]time.Time, len(rows))
	for i, r := range rows {
		p.saved[i] = r.Meta.SaveDate
	}
	p.mark = search.Mark{UserID: mb.UserID, MailboxID: mb.ID, UID: uint32(last)}
	return p, nil
}

// cutRows keeps the first rows, at most limit of them and no more than
// about bytes of messages (one at least), and reports their size and
// whether any were cut.
func cutRows(rows []store.MessageRow, limit int, bytes int64) (_ []store.MessageRow, size int64, cut bool) {
	if len(rows) > limit {
		rows, cut = rows[:limit], true
	}
	for i, r := range rows {
		if size += r.Meta.Size; size >= bytes && i+1 < len(rows) {
			return rows[:i+1], size, true
		}
	}
	return rows, size, cut
}

// lockAll takes the catch-up locks of qs's mailboxes in stripe order (so
// that two batches cannot deadlock) and returns their release.
func (s *Service) lockAll(qs []queued) func() {
	stripes := make([]int, len(qs))
	for i, q := range qs {
		stripes[i] = stripe(q.mb.ID)
	}
	slices.SortFunc(stripes, cmp.Compare)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		s.locks[i].Lock()
	}
	return func() {
		for _, i := range stripes {
			s.locks[i].Unlock()
		}
	}
}
