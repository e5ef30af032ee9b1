package indexer

import (
	"context"
	"errors"
	"fmt"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// DocLister is an index that can list a mailbox's documents (bleve and
// OpenSearch); quire check needs it to compare the index with the store.
type DocLister interface {
	UIDs(ctx context.Context, userID, mailboxID string) ([]uint32, error)
}

// DocConfirmer is a DocLister whose listing may lag its writes
// (OpenSearch answers searches as of its last refresh, 1 s by default):
// Present reports, as of now, which of uids have a document, so that a
// deletion not refreshed yet, a repair's included, is not reported as a
// document of a message not in the mailbox.
type DocConfirmer interface {
	Present(ctx context.Context, userID, mailboxID string, uids []uint32) ([]uint32, error)
}

// CanCheck reports whether Check can check this engine's index: whether
// it can list a mailbox's documents (bleve and OpenSearch can).
func (s *Service) CanCheck() bool {
	_, ok := s.o.Index.(DocLister)
	return ok
}

// Check is a store.IndexChecker: it compares mb's documents with live,
// the UIDs of its rows. A live message at or below the mailbox's mark
// with no document is missing (SEARCH trusts the mark, so it would never
// find it); a document of a UID not live is stale (an expunge whose
// deletion was lost; harmless to SEARCH, which intersects with the live
// UIDs, but it holds space). Messages above the mark are the indexer's
// pending work, not findings. With repair, stale documents are deleted
// and a mailbox with missing ones is indexed again from its first
// message (Put replaces documents, so the ones present are rewritten).
// It needs an engine that can list documents (CanCheck).
func (s *Service) Check(ctx context.Context, mb store.Mailbox, live []mail.UID, repair bool, report func(store.Finding)) error {
	dl, ok := s.o.Index.(DocLister)
	if !ok {
		return errors.New("indexer: this search engine cannot list its documents, so its index cannot be checked")
	}
	mark, err := s.o.Index.Indexed(ctx, mb.UserID, mb.ID)
	if err != nil {
		return err
	}
	docs, err := dl.UIDs(ctx, mb.UserID, mb.ID)
	if err != nil {
		return err
	}
	has := make(map[uint32]bool, len(docs))
	for _, u := range docs {
		has[u] = true
	}
	isLive := make(map[uint32]bool, len(live))
	var missing, stale []uint32
	for _, u := range live {
		isLive[uint32(u)] = true
		if uint32(u) <= mark && !has[uint32(u)] {
			missing = append(missing, uint32(u))
		}
	}
	for _, u := range docs {
		if !isLive[u] {
			stale = append(stale, u)
		}
	}
	if dc, ok := dl.(DocConfirmer); ok && len(stale) > 0 {
		if stale, err = dc.Present(ctx, mb.UserID, mb.ID, stale); err != nil {
			return err
		}
	}
	for _, u := range missing {
		report(store.Finding{Kind: "index", UID: u, Detail: fmt.Sprintf("no document, though the mark (%d) says indexed", mark), Repaired: repair})
	}
	for _, u := range stale {
		report(store.Finding{Kind: "index", UID: u, Detail: "document of a message not in the mailbox", Repaired: repair})
	}
	if !repair {
		return nil
	}
	if len(stale) > 0 {
		if err := s.o.Index.Delete(ctx, mb.UserID, mb.ID, stale); err != nil {
			return err
		}
		// Deletions are applied with the next Put; a mark of the same
		// value is one.
		if len(missing) == 0 {
			if err := s.o.Index.Put(ctx, nil, search.Mark{UserID: mb.UserID, MailboxID: mb.ID, UID: mark}); err != nil {
				return err
			}
		}
	}
	if len(missing) > 0 {
		if _, err := s.catchUp(ctx, mb, true, nil); err != nil {
			return fmt.Errorf("indexer: index %s again: %w", mb.Name, err)
		}
	}
	return nil
}
