package cassandra

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// roundTrips records the queries and batches a backend sends.
type roundTrips struct {
	mu   sync.Mutex
	fg   [][2]time.Time // queries the caller waits for: start, end
	bg   int            // background writes (watermark, materialization)
	stop func()
}

func watchRoundTrips(b *Backend) *roundTrips {
	rt := &roundTrips{}
	f := func(ctx context.Context, start, end time.Time) {
		rt.mu.Lock()
		defer rt.mu.Unlock()
		if isBackground(ctx) {
			rt.bg++
			return
		}
		rt.fg = append(rt.fg, [2]time.Time{start, end})
	}
	b.watch.Store(&f)
	rt.stop = func() { b.watch.Store(nil) }
	return rt
}

// take returns and forgets what was recorded: the queries waited for, the
// longest chain of them in which each starts after the one before ended
// (the sequential round trips, the critical path), and the background
// writes.
func (rt *roundTrips) take() (queries, sequential, background int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	qs := rt.fg
	slices.SortFunc(qs, func(a, b [2]time.Time) int { return a[1].Compare(b[1]) })
	chain := make([]int, len(qs))
	for i, q := range qs {
		chain[i] = 1
		for j := range i {
			if !qs[j][1].After(q[0]) {
				chain[i] = max(chain[i], chain[j]+1)
			}
		}
		sequential = max(sequential, chain[i])
	}
	queries, background = len(qs), rt.bg
	rt.fg, rt.bg = nil, 0
	return queries, sequential, background
}

// newUsers creates n users with random addresses starting with prefix.
func newUsers(t *testing.T, s *store.Store, prefix string, n int) []store.User {
	t.Helper()
	var users []store.User
	for i := range n {
		u, err := s.CreateUser(context.Background(), fmt.Sprintf("%s%d-%s@example.test", prefix, i, randID()[:8]), "{PLAIN}x")
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, u)
	}
	return users
}

// nopIndex is an index hook that does nothing: with one set, the store
// marks a mailbox unindexed before it adds to it, as quire serve does.
type nopIndex struct{}

func (nopIndex) Added(context.Context, store.Mailbox, []store.MessageRow, bool) {}
func (nopIndex) Expunged(store.Mailbox, []mail.UID)                             {}
func (nopIndex) MailboxDeleted(store.Mailbox)                                   {}
func (nopIndex) UserDeleted(store.User)                                         {}

// TestRoundTripsPerOperation counts the queries each IMAP command of
// bench/imap's mix and each LMTP delivery sends to Cassandra, and how many
// of them run in sequence (the critical path: the longest chain of
// queries each sent after the one before returned), on one host without
// contention and with warm caches, and holds the sequential count: a
// change that adds a round trip to a command's critical path fails here.
// Each IMAP command is the store calls imapserver makes for it, followed
// by the refresh of the selected mailbox that precedes every tagged reply
// but SELECT's (conn.updates). The table is in docs/BENCHMARKS.md.
func TestRoundTripsPerOperation(t *testing.T) {
	b := openTest(t, nil)
	ctx := context.Background()
	s := store.New(b, store.Options{})
	s.SetIndexHook(nopIndex{})
	users := newUsers(t, s, "rt", 5)
	u := users[0]
	spool := func(tag string) *store.Spooled {
		raw := fmt.Sprintf("Subject: %s\r\nMessage-ID: <%s-%s@x>\r\n\r\nbody\r\n", tag, tag, randID())
		sp, err := s.Spool(strings.NewReader(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sp.Close() })
		return sp
	}
	deliver := func(rcpts []store.User) error {
		for _, err := range s.Deliver(ctx, spool("d"), "a@example.test", rcpts) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	for range 4 {
		if err := deliver(users); err != nil {
			t.Fatal(err)
		}
	}
	// The selected mailbox as a session sees it.
	var (
		mb     store.Mailbox
		modseq mail.ModSeq
		uids   []mail.UID
	)
	refresh := func() error {
		return s.Changes(ctx, mb, modseq, func(c store.Change) error {
			modseq = max(modseq, c.ModSeq)
			return nil
		})
	}
	selectInbox := func() error {
		var err error
		if mb, err = s.Mailbox(ctx, u, "INBOX"); err != nil {
			return err
		}
		uids = nil
		h, err := s.Select(ctx, mb, func(r store.MessageState) error {
			uids = append(uids, r.UID)
			return nil
		})
		modseq = h.ModSeq
		return err
	}
	fetchBody := func() error {
		var meta *store.MessageMeta
		last := uids[len(uids)-1]
		if err := s.Messages(ctx, mb, last, last, func(r store.MessageRow) error { meta = &r.Meta; return nil }); err != nil {
			return err
		}
		if meta == nil {
			return fmt.Errorf("UID %d missing", last)
		}
		bl, err := s.OpenBody(ctx, *meta)
		if err != nil {
			return err
		}
		defer bl.Close()
		if _, err := io.Copy(io.Discard, io.NewSectionReader(bl, 0, bl.Size())); err != nil {
			return err
		}
		return refresh()
	}
	b.bg.Wait() // the warm-up's background writes
	rt := watchRoundTrips(b)
	defer rt.stop()
	for _, tc := range []struct {
		op   string
		want int // sequential round trips; -1: not held
		fn   func(rep int) error
	}{
		{"LMTP delivery, 1 recipient", 2, func(int) error { return deliver(users[:1]) }},
		// Five recipients send 17 queries at once, and on a loaded
		// machine (make test runs packages side by side on two cores)
		// one recipient's query can start after another's ended by
		// scheduling alone, which the chain counts: ten runs of a make
		// test all measured 3. The code's chain is 2 a recipient; the
		// bound of 3 still fails the code before issue 16 (6).
		{"LMTP delivery, 5 recipients", 3, func(int) error { return deliver(users) }},
		{"SELECT INBOX", 3, func(int) error { return selectInbox() }},
		{"FETCH 1:* (UID FLAGS ENVELOPE)", 3, func(int) error {
			if err := s.Messages(ctx, mb, 1, 0, func(store.MessageRow) error { return nil }); err != nil {
				return err
			}
			return refresh()
		}},
		{"UID FETCH n BODY.PEEK[]", 4, func(int) error { return fetchBody() }},
		{"UID STORE n +FLAGS (\\Seen)", 4, func(rep int) error {
			if _, err := s.StoreFlags(ctx, mb, uids[rep:rep+1], store.FlagsAdd, mail.NewFlags(`\Seen`), 0); err != nil {
				return err
			}
			return refresh()
		}},
		{"APPEND", 4, func(int) error {
			sp := spool("a")
			if err := s.PutBody(ctx, sp); err != nil {
				return err
			}
			if _, err := s.Append(ctx, u, mb, store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure}); err != nil {
				return err
			}
			return refresh()
		}},
		{"EXPUNGE", 6, func(rep int) error {
			if _, err := s.StoreFlags(ctx, mb, uids[len(uids)-1-rep:len(uids)-rep], store.FlagsAdd, mail.NewFlags(`\Deleted`), 0); err != nil {
				return err
			}
			if err := refresh(); err != nil {
				return err
			}
			rt.take() // the STORE before it
			var del []mail.UID
			if err := s.States(ctx, mb, 1, 0, func(r store.MessageState) error {
				if r.Flags.Has(`\Deleted`) {
					del = append(del, r.UID)
				}
				return nil
			}); err != nil {
				return err
			}
			if _, err := s.Expunge(ctx, mb, del); err != nil {
				return err
			}
			return refresh()
		}},
		{"NOOP (the refresh alone)", 1, func(int) error { return refresh() }},
	} {
		// The fewest of three to ten runs: the count is taken from the
		// queries' times, and scheduling (other tests, -race) can only
		// make a chain look longer, never shorter than the code's.
		best := [3]int{-1}
		for rep := 0; rep < 10 && (rep < 3 || best[0] > tc.want); rep++ {
			rt.take()
			if err := tc.fn(rep); err != nil {
				t.Fatalf("%s: %v", tc.op, err)
			}
			b.bg.Wait()
			q, seq, bg := rt.take()
			if best[0] < 0 || seq < best[0] {
				best = [3]int{seq, q, bg}
			}
		}
		t.Logf("| %s | %d | %d | %d |", tc.op, best[0], best[1], best[2])
		if tc.want >= 0 && best[0] > tc.want {
			t.Errorf("%s: %d round trips in sequence, want at most %d", tc.op, best[0], tc.want)
		}
	}
}
