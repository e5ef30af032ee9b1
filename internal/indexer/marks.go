package indexer

import (
	"sync"
	"time"

	"github.com/quiremail/quire/internal/search"
)

// written remembers the marks this host's pipeline wrote in the last
// recentFor. An engine may answer Indexed from a view refreshed only
// every second or so (OpenSearch's refresh interval): the pipeline reads
// a mailbox's mark as the larger of the two, so that the next batch of a
// busy mailbox does not index again what the previous one just wrote.
// Entries expire, so the memory is bounded by the mailboxes indexed in
// recentFor.
type written struct {
	mu    sync.Mutex
	m     map[string]wroteMark // mailbox ID ->
	prune time.Time            // when expired entries were last removed
}

type wroteMark struct {
	uid uint32
	at  time.Time
}

// recentFor is how long a written mark is remembered: well past any
// engine's refresh interval.
const recentFor = time.Minute

// get returns the mark last written for the mailbox, 0 if none recently.
func (w *written) get(mailboxID string, now time.Time) uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e, ok := w.m[mailboxID]; ok && now.Sub(e.at) < recentFor {
		return e.uid
	}
	return 0
}

// put remembers marks written at now, and drops expired entries at most
// once per recentFor.
func (w *written) put(marks []search.Mark, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]wroteMark{}
	}
	for _, m := range marks {
		w.m[m.MailboxID] = wroteMark{m.UID, now}
	}
	if now.Sub(w.prune) >= recentFor {
		for id, e := range w.m {
			if now.Sub(e.at) >= recentFor {
				delete(w.m, id)
			}
		}
		w.prune = now
	}
}

// forget drops what is remembered of the mailboxes: a reindex set their
// marks back to 0.
func (w *written) forget(mailboxIDs []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range mailboxIDs {
		delete(w.m, id)
	}
}
