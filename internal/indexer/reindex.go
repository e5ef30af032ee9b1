package indexer

import (
	"context"
	"fmt"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

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
	// The pipeline forgets the marks it wrote for them, before and after
	// (a batch may have been under way).
	zero := make([]search.Mark, len(mbs))
	ids := make([]string, len(mbs))
	for i, mb := range mbs {
		zero[i] = search.Mark{UserID: u.ID, MailboxID: mb.ID}
		ids[i] = mb.ID
	}
	s.written.forget(ids)
	if err := s.o.Index.Put(ctx, nil, zero...); err != nil {
		return err
	}
	if err := s.o.Index.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	s.written.forget(ids)
	if progress != nil {
		progress(0, total)
	}
	for _, mb := range mbs {
		_, err := s.catchUp(ctx, mb, true, func(n int) {
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
