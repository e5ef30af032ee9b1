package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// stores returns n Stores: over peers of the backend where the harness has
// them (as separate hosts), otherwise over the same backend.
func (e *env) stores(n int) []*store.Store {
	out := make([]*store.Store, n)
	for i := range out {
		b := e.b
		if e.h.Peer != nil && i%2 == 1 {
			b = e.h.Peer(e.tt, e.b)
		}
		out[i] = e.newStore(b, store.Options{})
	}
	return out
}

func testConcurrentAppends(t testing.TB, e *env) {
	const writers, each = 6, 15
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	m := e.msg("c")
	ss := e.stores(writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	got := make([][]mail.UID, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				uids, err := ss[w].Append(e.ctx, u, mb, m)
				if err != nil {
					errs <- err
					return
				}
				// Each writer sees its own UIDs ascend.
				if n := len(got[w]); n > 0 && uids[0] <= got[w][n-1] {
					errs <- fmt.Errorf("writer %d got UID %d after %d", w, uids[0], got[w][n-1])
					return
				}
				got[w] = append(got[w], uids...)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := map[mail.UID]bool{}
	for _, g := range got {
		for _, uid := range g {
			if seen[uid] {
				t.Fatalf("UID %d handed out twice", uid)
			}
			seen[uid] = true
		}
	}
	h := e.head(mb)
	if h.Messages != writers*each || h.UIDNext != writers*each+1 {
		t.Fatalf("head %+v after %d appends", h, writers*each)
	}
	for uid := mail.UID(1); uid <= writers*each; uid++ {
		if !seen[uid] {
			t.Fatalf("UID %d missing: UIDs must be gapless when nothing is expunged", uid)
		}
	}
	e.check(mb)
}

func testConcurrentFlags(t testing.TB, e *env) {
	const writers, rounds = 6, 10
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	var msgs []store.NewMessage
	for i := range 10 {
		msgs = append(msgs, e.msg(fmt.Sprint(i)))
	}
	e.appendN(u, mb, msgs...)
	ss := e.stores(writers)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kw := mail.Flags{fmt.Sprintf("kw%d", w)}
			for r := range rounds {
				uids := []mail.UID{mail.UID(r%10 + 1), mail.UID((r+w)%10 + 1)}
				op := store.FlagsAdd
				if r%3 == 2 {
					op = store.FlagsRemove
				}
				if _, err := ss[w].StoreFlags(e.ctx, mb, uids, op, append(kw, `\Seen`), 0); err != nil {
					errs <- err
					return
				}
				if w == 0 && r == rounds/2 {
					if _, err := ss[w].Expunge(e.ctx, mb, []mail.UID{10}); err != nil {
						errs <- err
						return
					}
				}
				if w == 1 && r%4 == 0 {
					if _, err := ss[w].Append(e.ctx, u, mb, msgs[0]); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.check(mb)
}

// testManyCommits makes more commits than a small change-log bucket holds,
// so backends that partition the log are checked across partitions.
func testManyCommits(t testing.TB, e *env) {
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	m := e.msg("many")
	for i := range 150 {
		uids := e.appendN(u, mb, m)
		if i%3 == 0 {
			if _, err := e.s.StoreFlags(e.ctx, mb, uids, store.FlagsAdd, mail.Flags{`\Seen`}, 0); err != nil {
				t.Fatal(err)
			}
		}
		if i%5 == 0 {
			if _, err := e.s.Expunge(e.ctx, mb, uids); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.check(mb)
	mid := e.head(mb).ModSeq / 2
	for _, c := range e.changes(mb, uint64(mid)) {
		if c.ModSeq <= mid {
			t.Fatalf("Changes(%d) returned MODSEQ %d", mid, c.ModSeq)
		}
	}
}

// testScanWhileAppending: while writers append, a reader scans from a UID
// on in batches, as the indexer catches up (Messages(lo, 0) stopped after
// a few rows). Every scan must give a gapless run from lo: a row that
// shows while a lower one does not would be skipped by the next scan.
func testScanWhileAppending(t testing.TB, e *env) {
	const writers, each, batch = 4, 60, 7
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	m := e.msg("scan")
	ss := make([]*store.Store, writers) // one host: the writers share its backend
	for i := range ss {
		ss[i] = e.newStore(e.b, store.Options{})
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for range each {
				if _, err := ss[w].Append(e.ctx, u, mb, m); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()
	stop := fmt.Errorf("batch full")
	lo := mail.UID(1)
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		var got []mail.UID
		err := e.s.Messages(e.ctx, mb, lo, 0, func(r store.MessageRow) error {
			got = append(got, r.UID)
			if len(got) == batch {
				return stop
			}
			return nil
		})
		if err != nil && !errors.Is(err, stop) {
			<-done // the writers must not report after the test ends
			t.Fatal(err)
		}
		for i, uid := range got {
			if uid != lo+mail.UID(i) {
				var again []mail.UID
				err := e.s.Messages(e.ctx, mb, lo, uid, func(r store.MessageRow) error { again = append(again, r.UID); return nil })
				<-done
				t.Fatalf("a scan from UID %d gave %v: UID %d is missing while a higher one shows (a scan right after gave %v, %v)", lo, got, lo+mail.UID(i), again, err)
			}
		}
		lo += mail.UID(len(got))
	}
	if want := mail.UID(writers*each + 1); lo != want {
		// The last scans ran after the writers: everything was seen.
		var rest int
		err := e.s.Messages(e.ctx, mb, lo, 0, func(store.MessageRow) error { rest++; return nil })
		if lo+mail.UID(rest) != want {
			t.Fatalf("scanned up to %d, then %d more (%v); want %d messages", lo-1, rest, err, want-1)
		}
	}
}

// testConcurrentMoves: two sessions (stores, on peers where the harness
// has them) move the same message at once. It ends in the destination
// once: the one whose expunge took it reports the move, the other
// reports nothing moved and leaves no copy (a message moved twice was
// stored twice, bench/stress found).
func testConcurrentMoves(t testing.TB, e *env) {
	const rounds = 30
	u := e.user()
	in, arch := e.mailbox(u, "INBOX"), e.mailbox(u, "Archive")
	ss := e.stores(2)
	for round := range rounds {
		uids := e.appendN(u, in, e.msg(fmt.Sprint("m", round)))
		var wg sync.WaitGroup
		moved := make([][]mail.UID, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				_, moved[i], errs[i] = ss[i].Move(e.ctx, u, in, arch, uids)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if n := len(moved[0]) + len(moved[1]); n != 1 {
			t.Fatalf("round %d: both moves report %v and %v, want one message moved once", round, moved[0], moved[1])
		}
		if n := len(e.rows(in)); n != 0 {
			t.Fatalf("round %d: %d messages left in INBOX", round, n)
		}
		if n := len(e.rows(arch)); n != round+1 {
			t.Fatalf("round %d: Archive holds %d messages, want %d: a move copied twice", round, n, round+1)
		}
	}
	e.check(in)
	e.check(arch)
}
