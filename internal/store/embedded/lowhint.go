package embedded

import (
	"sync"

	"github.com/quiremail/quire/internal/mail"
)

// lowHints remember, per mailbox, a UID below which the mailbox has no
// row, so that a scan from UID 1 (SELECT, FETCH 1:*) seeks there instead
// of stepping over the tombstones its expunged rows left: a mailbox
// whose oldest mail is deleted as new mail arrives keeps its deleted
// rows' tombstones at its low end until compaction drops them, and every
// scan from 1 stepped over each (4 % of quire's CPU in the IMAP mix,
// which expunges the oldest message each session).
//
// Invariant: no row of the mailbox has a UID below its hint. A scan that
// started where nothing lies below it (UID 1, or the hint) and found its
// first row at k raises the hint to k: rows are only ever added at or
// above UIDNEXT (store.Store's appends and AppendAt), which is above
// every row, so no row appears below k later. Commit drops the hint of
// a mailbox should an append come below it all the same. Mailbox IDs are
// never reused. Bounded: past maxLowHints mailboxes the hints are
// forgotten, all at once. Safe for concurrent use.
type lowHints struct {
	mu sync.Mutex
	m  map[string]mail.UID
}

const maxLowHints = 1 << 16

func (h *lowHints) get(mailboxID string) mail.UID {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[mailboxID]
}

// raise records that mailboxID has no row below uid.
func (h *lowHints) raise(mailboxID string, uid mail.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil || len(h.m) >= maxLowHints {
		h.m = map[string]mail.UID{}
	}
	h.m[mailboxID] = max(h.m[mailboxID], uid)
}

// below drops the hint of mailboxID if uid is below it.
func (h *lowHints) below(mailboxID string, uid mail.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if uid < h.m[mailboxID] {
		delete(h.m, mailboxID)
	}
}
