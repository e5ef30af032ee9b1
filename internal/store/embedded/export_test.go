package embedded

import "github.com/quiremail/quire/internal/mail"

// DropChange deletes one change-log entry, as a corruption would: the
// check tests plant it (storetest.Harness.DropChange).
func DropChange(b *Backend, mailboxID string, m mail.ModSeq, uid mail.UID) error {
	return b.db.Delete(changeKey(mailboxID, m, uid), b.wsync)
}
