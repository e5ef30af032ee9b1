package embedded

import (
	"context"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Expunged implements store.Index: Commit keeps each expunged row under
// x/mailboxID/uid, with its flags and metadata and the expunge's MODSEQ,
// until the log trim's floor passes the expunge (logtrim.go) or the
// mailbox is deleted. That costs one row's metadata per expunged message,
// as the change log costs one entry.
func (b *Backend) Expunged(_ context.Context, mailboxID string, uids []mail.UID, fn func(store.MessageRow) error) error {
	for _, uid := range uids {
		v, ok, err := b.get(goneKey(mailboxID, uid))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		r, err := decodeRow(uid, v)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
