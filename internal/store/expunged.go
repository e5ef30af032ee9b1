package store

import (
	"context"
	"slices"

	"github.com/quiremail/quire/internal/mail"
)

// Expunged calls fn for each of uids that has been expunged from mb, in
// ascending UID order, with its metadata, its flags when expunged and the
// MODSEQ of its expunge (Index.Expunged). Live and unknown UIDs are
// skipped.
func (s *Store) Expunged(ctx context.Context, mb Mailbox, uids []mail.UID, fn func(MessageRow) error) error {
	if len(uids) == 0 {
		return nil
	}
	uids = slices.Clone(uids)
	slices.Sort(uids)
	return s.b.Expunged(ctx, mb.ID, slices.Compact(uids), fn)
}
