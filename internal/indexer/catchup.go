package indexer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
)

// CatchUp indexes every message of mb above its mark and returns how many
// it indexed. It clears mb's unindexed mark if it was made Margin before
// the catch-up began.
func (s *Service) CatchUp(ctx context.Context, mb store.Mailbox) (int, error) {
	n, err := s.catchUp(ctx, mb, false, nil)
	if err != nil && ctx.Err() == nil {
		s.failed(mb, err)
	}
	return n, err
}

func (s *Service) failed(mb store.Mailbox, err error) {
	s.stats.errors.Add(1)
	s.log.Warn("indexer: catching up failed; the mailbox stays queued", "user", mb.UserID, "mailbox", mb.ID, "err", err)
}

// catchUp is CatchUp, from the first message when all is set (the mark
// may not be gone yet from what the index shows), calling progress after
// each batch. A panic fails the catch-up like any error (the mailbox
// stays queued); it is logged with its stack and counted.
func (s *Service) catchUp(ctx context.Context, mb store.Mailbox, all bool, progress func(int)) (n int, err error) {
	err = s.sup.Do("indexer: catch-up", func() error {
		var err error
		n, err = s.batches(ctx, mb, all, progress)
		return err
	}, "user", mb.UserID, "mailbox", mb.ID)
	return n, err
}

// batches does catchUp's work.
func (s *Service) batches(ctx context.Context, mb store.Mailbox, all bool, progress func(int)) (n int, err error) {
	l := &s.locks[stripe(mb.ID)]
	l.Lock()
	defer l.Unlock()
	start := s.o.Now()
	s.stats.catchUps.Add(1)
	mark, err := s.o.Index.Indexed(ctx, mb.UserID, mb.ID)
	if err != nil {
		return 0, err
	}
	if all {
		mark = 0
	}
	lo := mail.UID(mark) + 1
	for {
		rows, err := s.rowsFrom(ctx, mb, lo)
		if err != nil {
			if errors.Is(err, mail.ErrNoSuchMailbox) {
				break // deleted since: nothing to index, and its mark may go
			}
			return n, err
		}
		if len(rows) == 0 {
			break
		}
		rows, _, _ = cutRows(rows, s.o.Batch, s.o.BatchBytes)
		// The batch covers [lo, last] of the first read: the second read
		// of fillGaps reads that range again, so the mark may pass it even
		// when every message of it was expunged in between (no rows left).
		last := rows[len(rows)-1].UID
		if rows, err = s.fillGaps(ctx, mb, lo, rows); err != nil {
			return n, err
		}
		docs, err := s.docs(ctx, mb, rows, nil)
		if err != nil {
			return n, err
		}
		if err := s.o.Index.Put(ctx, docs, search.Mark{UserID: mb.UserID, MailboxID: mb.ID, UID: uint32(last)}); err != nil {
			return n, err
		}
		s.log.Debug("indexer: batch", "mailbox", mb.ID, "from", lo, "to", last, "n", len(rows))
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
	return n, err
}

// fillGaps reads the range [lo, last row] again, a moment later, when the
// batch skips UIDs in it: the mark will pass over them, so a message the
// scan missed would never be indexed. Expunged messages leave such gaps
// too, and cost the second read only. The one cause of missed messages
// found (a Cassandra snapshot whose watermark passed its head, fixed in
// headCache.put) is gone; this stays as a guard, counted in rereads. It returns the rows of the second
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
// converting dominate indexing, and messages are independent. texts, if
// set, shares documents' text between rows of one body (texts).
func (s *Service) docs(ctx context.Context, mb store.Mailbox, rows []store.MessageRow, texts *texts) ([]search.Doc, error) {
	docs := make([]search.Doc, len(rows))
	errs := make([]error, len(rows))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(rows)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = supervise.Catch(func() (err error) { // counted by catchUp
					if d, ok := texts.get(rows[i].Meta.Blob); ok {
						docs[i] = docOf(d, mb, rows[i].UID)
						return nil
					}
					docs[i], err = s.doc(ctx, mb, rows[i])
					if err == nil {
						texts.put(rows[i].Meta.Blob, docs[i])
					}
					return err
				})
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

// texts are the documents a batch built, by body: a delivery to five
// recipients stores one body in five mailboxes, and its text is the
// same in each (Doc reads nothing but the body). The zero value, and
// nil, share nothing.
type texts struct {
	mu sync.Mutex
	m  map[store.BlobID]search.Doc
}

func (t *texts) get(id store.BlobID) (search.Doc, bool) {
	if t == nil || id == "" {
		return search.Doc{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.m[id]
	return d, ok
}

func (t *texts) put(id store.BlobID, d search.Doc) {
	if t == nil || id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[store.BlobID]search.Doc{}
	}
	t.m[id] = d
}

// docOf is d as the document of another mailbox's message.
func docOf(d search.Doc, mb store.Mailbox, uid mail.UID) search.Doc {
	d.UserID, d.MailboxID, d.UID = mb.UserID, mb.ID, uint32(uid)
	return d
}

// doc reads one message and builds its document. A body that cannot be
// read fails the catch-up (it is retried); content that cannot be
// converted does not (the converter salvages what it can).
func (s *Service) doc(ctx context.Context, mb store.Mailbox, r store.MessageRow) (search.Doc, error) {
	raw, root, err := s.read(ctx, mb, r)
	if err != nil {
		return search.Doc{}, err
	}
	// The attachments a delivery on this host converted moments ago:
	// their text, not a second decoding and hashing of each to find it
	// in the converter's cache.
	if text, ok := s.bodies.attachments(ctx, r.Meta.Blob, s.o.Now()); ok {
		return doc(mb.UserID, mb.ID, uint32(r.UID), raw, root, func(*message.Part) string { return text }), nil
	}
	return Doc(ctx, s.o.Converter, mb.UserID, mb.ID, uint32(r.UID), raw, root), nil
}

// read returns a message's bytes (up to MaxMessage) and its stored
// structure (nil when it cannot be read: Doc scans raw, as SEARCH does).
func (s *Service) read(ctx context.Context, mb store.Mailbox, r store.MessageRow) ([]byte, *message.Part, error) {
	blob, err := s.o.Store.OpenBody(ctx, r.Meta)
	if err != nil {
		return nil, nil, fmt.Errorf("indexer: open message %d of %s: %w", r.UID, mb.ID, err)
	}
	defer blob.Close()
	raw := make([]byte, min(blob.Size(), s.o.MaxMessage))
	if n, err := blob.ReadAt(raw, 0); n < len(raw) && err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("indexer: read message %d of %s: %w", r.UID, mb.ID, err)
	}
	root, err := message.Unmarshal(r.Meta.Structure)
	if err != nil {
		root = nil
	}
	return raw, root, nil
}

func stripe(id string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return int(h.Sum32() % 64)
}
