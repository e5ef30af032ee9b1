package embedded

import (
	"encoding/json"
	"os"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// DropChange deletes one change-log entry, as a corruption would: the
// check tests plant it (storetest.Harness.DropChange).
func DropChange(b *Backend, mailboxID string, m mail.ModSeq, uid mail.UID) error {
	return b.db.Delete(changeKey(mailboxID, m, uid), b.wsync)
}

// PlantOrphanFile writes a body file that no key names, as a crash
// between its rename into blobs/ and the sync of its key leaves, dated
// at (storetest.Harness.PlantOrphans).
func PlantOrphanFile(b *Backend, id string, data []byte, at time.Time) error {
	p := b.blobPath(id)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	return os.Chtimes(p, at, at)
}

// BlobFileExists reports whether id's body file is there.
func BlobFileExists(b *Backend, id string) bool {
	_, err := b.fs.Stat(b.blobPath(id))
	return err == nil
}

// DropRecord deletes a mailbox's record and nothing else, as a creation
// racing its user's deletion leaves it (storetest.Harness.PlantStray).
func DropRecord(b *Backend, userID, name string) error {
	return b.db.Delete(mboxKey(userID, name), b.wsync)
}

// MailboxKeys counts the keys stored under a mailbox's id: head, rows,
// change log, expunged rows and trim state.
func MailboxKeys(b *Backend, id string) (int, error) {
	n := 0
	for _, p := range [][]byte{headKey(id), logTrimKey(id), rowPrefix(id), changePrefix(id), gonePrefix(id)} {
		end := prefixEnd(p)
		if p[len(p)-1] != 0 { // a single key, not a prefix ending in NUL
			end = append(append([]byte(nil), p...), 0)
		}
		if err := b.scan(p, end, func(_, _ []byte) error { n++; return nil }); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// RowsOf counts the uids of a mailbox with a live or an expunged row.
func RowsOf(b *Backend, id string, uids []mail.UID) (int, error) {
	n := 0
	for _, u := range uids {
		for _, k := range [][]byte{rowKey(id, u), goneKey(id, u)} {
			_, ok, err := b.get(k)
			if err != nil {
				return 0, err
			}
			if ok {
				n++
				break
			}
		}
	}
	return n, nil
}

// HeadsWithoutRecord counts the mailbox heads no mailbox record names.
func HeadsWithoutRecord(b *Backend) (int, error) {
	recorded := map[string]bool{}
	p := []byte(pMbox)
	if err := b.scan(p, prefixEnd(p), func(_, v []byte) error {
		var mb store.Mailbox
		if err := json.Unmarshal(v, &mb); err != nil {
			return err
		}
		recorded[mb.ID] = true
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	p = []byte(pHead)
	err := b.scan(p, prefixEnd(p), func(k, _ []byte) error {
		if !recorded[string(k[len(p):])] {
			n++
		}
		return nil
	})
	return n, err
}
