package storetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// quotaBoxes are the mailboxes the quota tests write to.
var quotaBoxes = []string{"INBOX", "Drafts", "Sent", "Archive"}

// usageOf sums the live rows of the user's mailboxes: the usage, counted
// without the heads the quota check reads.
func (e *env) usageOf(u store.User, names []string) store.Usage {
	e.t.Helper()
	var us store.Usage
	for _, n := range names {
		for _, r := range e.rows(e.mailbox(u, n)) {
			us.Messages++
			us.Storage += r.Meta.Size
		}
	}
	return us
}

// quotaEdge checks that the quota check holds the user at exactly us: one
// more message is refused at the limit and accepted one below it, for
// messages and for bytes.
func (e *env) quotaEdge(s *store.Store, u store.User, mb store.Mailbox, us store.Usage) {
	e.t.Helper()
	m := e.msg("edge")
	try := func(msgs, bytes int64, want bool) {
		e.t.Helper()
		u.QuotaMessages, u.QuotaStorage = msgs, bytes
		if err := s.UpdateUser(e.ctx, u); err != nil {
			e.t.Fatal(err)
		}
		uids, err := s.Append(e.ctx, u, mb, m)
		switch {
		case want && err != nil:
			e.t.Fatalf("quota %d messages %d bytes, usage %+v: append refused: %v", msgs, bytes, us, err)
		case !want && !errors.Is(err, mail.ErrOverQuota):
			e.t.Fatalf("quota %d messages %d bytes, usage %+v: append: %v, want ErrOverQuota", msgs, bytes, us, err)
		}
		if want {
			if _, err := s.Expunge(e.ctx, mb, uids); err != nil {
				e.t.Fatal(err)
			}
		}
	}
	try(us.Messages, 0, false)
	try(us.Messages+1, 0, true)
	try(0, us.Storage+m.Size-1, false)
	try(0, us.Storage+m.Size, true)
}

// testQuotaConcurrent: the usage the quota check holds deliveries to stays
// exact while writers append, flag and expunge in several of the user's
// mailboxes at once through one Store (the check does not read every
// mailbox's head, DESIGN.md; ARCHITECTURE.md "Quota usage").
func testQuotaConcurrent(t testing.TB, e *env) {
	const writers, each = 6, 12
	u := e.user()
	u.QuotaMessages = 1 << 40 // a limit, so every append checks it
	if err := e.s.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 16))
			for i := range each {
				mb := e.mailbox(u, quotaBoxes[r.IntN(len(quotaBoxes))])
				var err error
				switch r.IntN(4) {
				case 0, 1:
					msgs := []store.NewMessage{e.msg(fmt.Sprint("w", w, "-", i))}
					if r.IntN(2) == 0 {
						msgs = append(msgs, e.msg(fmt.Sprint("w", w, "-", i, "b"), `\Seen`))
					}
					_, err = e.s.Append(e.ctx, u, mb, msgs...)
				case 2:
					_, err = e.s.StoreFlags(e.ctx, mb, []mail.UID{mail.UID(1 + r.IntN(8))}, store.FlagsAdd, mail.Flags{`\Seen`}, 0)
				case 3:
					_, err = e.s.Expunge(e.ctx, mb, []mail.UID{mail.UID(1 + r.IntN(8))})
				}
				if err != nil {
					errs <- fmt.Errorf("writer %d, step %d: %w", w, i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	us := e.usageOf(u, quotaBoxes)
	if us.Messages == 0 {
		t.Fatal("the writers left no messages; the test checks nothing")
	}
	e.quotaEdge(e.s, u, e.mailbox(u, "INBOX"), us)
	if got, err := e.s.Usage(e.ctx, u); err != nil || got != us {
		t.Fatalf("Usage = %+v, %v; the rows sum to %+v", got, err, us)
	}
}

// headCounter counts Head reads.
type headCounter struct {
	store.Backend
	n atomic.Int64
}

func (h *headCounter) Head(ctx context.Context, mailboxID string) (store.Head, error) {
	h.n.Add(1)
	return h.Backend.Head(ctx, mailboxID)
}

// testQuotaHeadReads: a delivery to a user with many mailboxes reads the
// head of the mailbox it appends to, not of every mailbox (issue 16).
func testQuotaHeadReads(t testing.TB, e *env) {
	const boxes = 30
	hc := &headCounter{Backend: e.b}
	s := e.newStore(hc, store.Options{})
	u, err := s.CreateUser(e.ctx, "u"+randHex(6)+"@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	e.track(u)
	u.QuotaStorage = 1 << 40
	if err := s.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	for i := range boxes {
		if _, err := s.CreateMailbox(e.ctx, u, fmt.Sprint("box", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	in := e.mailbox(u, "INBOX")
	if _, err := s.Append(e.ctx, u, in, e.msg("first")); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		before := hc.n.Load()
		if _, err := s.Append(e.ctx, u, in, e.msg(fmt.Sprint("next", i))); err != nil {
			t.Fatal(err)
		}
		// One read for the commit's compare-and-set; a retry after a
		// conflict would add one, but nothing else writes here.
		if n := hc.n.Load() - before; n > 1 {
			t.Fatalf("append %d to one of %d mailboxes read %d heads", i, boxes+len(quotaBoxes)+2, n)
		}
	}
}

// testQuotaOtherStore: what another Store (another host where the harness
// has peers) commits reaches the quota check within the cache's bound, a
// minute (ARCHITECTURE.md "Quota usage").
func testQuotaOtherStore(t testing.TB, e *env) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	a := e.newStore(e.b, store.Options{Now: clock})
	b := e.stores(2)[1]
	u := e.user()
	in := e.mailbox(u, "INBOX")
	u.QuotaMessages = 3
	if err := a.UpdateUser(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(e.ctx, u, in, e.msg("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(e.ctx, u, e.mailbox(u, "Sent"), e.msg("b1"), e.msg("b2")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(time.Minute + time.Second)
	mu.Unlock()
	if _, err := a.Append(e.ctx, u, in, e.msg("a2")); !errors.Is(err, mail.ErrOverQuota) {
		t.Fatalf("a minute after another store filled the quota: %v, want ErrOverQuota", err)
	}
}
