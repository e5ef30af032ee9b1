package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// testLogTrim: the purge trims a mailbox's change log to the history
// (store.purge.log_history). The first pass only marks the head; a pass
// less than the history later trims nothing; a pass the history later
// drops the entries up to the mark (a backend trimming whole buckets may
// keep some), never one above it. Changes from the floor on returns
// exactly what it returned before the trim, Changes from below it fails
// with store.ErrLogTrimmed naming the floor, the rows are untouched, and
// the mailbox passes CheckMailbox and a clean quire check.
func testLogTrim(t testing.TB, e *env) {
	const history = time.Hour
	sc := newTrimScene(t, e, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), history)
	e, s, u, inbox, now := sc.e, sc.e.s, sc.u, sc.inbox, &sc.now
	pass, floorOf, flag, expunge := sc.pass, sc.floor, sc.flag, sc.expunge
	// Phase A: more entries than a Cassandra test bucket holds (32), so
	// that at least one bucket is sealed before the mark.
	uids := sc.appendSome("a", 40)
	flag(uids[:5], mail.FlagSeen)
	expunge(uids[5:8])
	mark := e.head(inbox).ModSeq
	if pass(false); floorOf() != 0 {
		t.Fatalf("the first pass trimmed the log to %d; it only marks", floorOf())
	}
	// Phase B, after the mark: changes to old and new messages, across
	// further buckets.
	for i := range 40 {
		uids = append(uids, e.appendN(u, inbox, e.msg(fmt.Sprintf("b%d", i)))...)
	}
	flag(uids[:2], "$Phase")
	expunge(uids[8:10])
	expunge(uids[45:47])
	now.Add(int64(history / 2))
	if pass(false); floorOf() != 0 {
		t.Fatalf("a pass half the history after the mark trimmed the log to %d", floorOf())
	}
	before := e.changes(inbox, 0)
	rows := e.rows(inbox)
	now.Add(int64(history/2 + time.Second))
	dry := pass(true)
	if floorOf() != 0 {
		t.Fatalf("a dry run trimmed the log to %d", floorOf())
	}
	if got := e.changes(inbox, 0); len(got) != len(before) {
		t.Fatalf("after a dry run the log has %d entries, had %d", len(got), len(before))
	}
	st := pass(false)
	sameTrim(t, dry, st)
	floor, err := s.LogFloor(e.ctx, inbox)
	if err != nil {
		t.Fatalf("LogFloor: %v", err)
	}
	if floor == 0 || floor > mark {
		t.Fatalf("log floor %d after the trim; want 1..%d (the mark)", floor, mark)
	}
	var dropped int64
	var kept []store.Change
	for _, c := range before {
		if c.ModSeq <= floor {
			dropped++
		} else {
			kept = append(kept, c)
		}
	}
	// Other scenarios' mailboxes in this backend are trimmed too.
	if st.LogEntries < dropped || st.LogMailboxes < 1 {
		t.Fatalf("the pass reports %d entries of %d mailboxes trimmed; this mailbox's log alone had %d entries at or below the floor %d",
			st.LogEntries, st.LogMailboxes, dropped, floor)
	}
	sameChanges(t, e.changes(inbox, uint64(floor)), kept)
	for _, since := range []mail.ModSeq{0, floor - 1} {
		err := s.Changes(e.ctx, inbox, since, func(store.Change) error { return nil })
		var te *store.LogTrimmedError
		if !errors.Is(err, store.ErrLogTrimmed) || !errors.As(err, &te) || te.Floor != floor {
			t.Fatalf("Changes(%d) below the floor %d: %v; want a store.LogTrimmedError with the floor", since, floor, err)
		}
	}
	if got := e.rows(inbox); len(got) != len(rows) {
		t.Fatalf("the trim changed the rows: %d, had %d", len(got), len(rows))
	}
	e.check(inbox)
	wantFindings(t, e.checkFindings(u, false), nil)
	// The next pass within the history trims nothing more.
	if pass(false); floorOf() != floor {
		t.Fatalf("a pass right after the trim moved the floor from %d to %d", floor, floorOf())
	}
	// A change after the trim is logged and read from the floor on.
	flag(uids[60:61], mail.FlagFlagged)
	got := e.changes(inbox, uint64(floor))
	if last := got[len(got)-1]; last.UID != uids[60] || last.Kind != store.ChangeFlags {
		t.Fatalf("the last change after the trim is %+v; want flags of UID %d", last, uids[60])
	}
	e.check(inbox)
}

// trimScene is a log trim test's Store over e's backend, whose clock the
// test moves, and a fresh user's INBOX. The assertions are about this
// mailbox: a backend shared with other scenarios holds mailboxes they
// trimmed, whose marks this clock may find old.
type trimScene struct {
	t       testing.TB
	e       *env // with the scene's Store
	now     atomic.Int64
	history time.Duration
	u       store.User
	inbox   store.Mailbox
}

// newTrimScene skips the test on a backend that does not trim its log.
func newTrimScene(t testing.TB, e *env, start time.Time, history time.Duration) *trimScene {
	t.Helper()
	if _, ok := e.b.(store.LogTrimmer); !ok {
		t.Skip("the backend does not trim its change log")
	}
	sc := &trimScene{t: t, history: history}
	sc.now.Store(start.UnixNano())
	es := *e
	es.s = e.newStore(e.b, store.Options{Now: func() time.Time { return time.Unix(0, sc.now.Load()) }})
	sc.e = &es
	sc.u = sc.e.user()
	sc.inbox = sc.e.mailbox(sc.u, "INBOX")
	return sc
}

// pass runs a purge pass with the scene's history and a grace of a day.
func (sc *trimScene) pass(dry bool) store.PurgeStats {
	sc.t.Helper()
	st, err := sc.e.s.Purge(sc.e.ctx, store.PurgeOptions{Grace: 24 * time.Hour, LogHistory: sc.history, DryRun: dry})
	if err != nil {
		sc.t.Fatalf("Purge: %v", err)
	}
	return st
}

func (sc *trimScene) floor() mail.ModSeq {
	sc.t.Helper()
	f, err := sc.e.s.LogFloor(sc.e.ctx, sc.inbox)
	if err != nil {
		sc.t.Fatalf("LogFloor: %v", err)
	}
	return f
}

func (sc *trimScene) flag(us []mail.UID, f string) {
	sc.t.Helper()
	if _, err := sc.e.s.StoreFlags(sc.e.ctx, sc.inbox, us, store.FlagsAdd, mail.NewFlags(f), 0); err != nil {
		sc.t.Fatalf("StoreFlags: %v", err)
	}
}

func (sc *trimScene) expunge(us []mail.UID) {
	sc.t.Helper()
	sc.flag(us, mail.FlagDeleted)
	if _, err := sc.e.s.Expunge(sc.e.ctx, sc.inbox, us); err != nil {
		sc.t.Fatalf("Expunge: %v", err)
	}
}

// appendSome appends n messages, one commit each, and returns their UIDs.
func (sc *trimScene) appendSome(tag string, n int) (out []mail.UID) {
	sc.t.Helper()
	for i := range n {
		out = append(out, sc.e.appendN(sc.u, sc.inbox, sc.e.msg(fmt.Sprintf("%s%d", tag, i)))...)
	}
	return out
}

// sameTrim fails unless a dry run counted what the real pass at the same
// clock then dropped.
func sameTrim(t testing.TB, dry, real store.PurgeStats) {
	t.Helper()
	type trim struct{ entries, mailboxes, buckets, expunged int64 }
	d := trim{dry.LogEntries, dry.LogMailboxes, dry.LogBuckets, dry.ExpungedRows}
	r := trim{real.LogEntries, real.LogMailboxes, real.LogBuckets, real.ExpungedRows}
	if d != r || !dry.DryRun || real.DryRun {
		t.Fatalf("the dry run counted %+v (entries, mailboxes, buckets, expunged rows), the pass then dropped %+v", d, r)
	}
}

// sameChanges fails unless got and want are the same changes (MODSEQ,
// UID, kind, flags), in order.
func sameChanges(t testing.TB, got, want []store.Change) {
	t.Helper()
	key := func(cs []store.Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%d/%d/%s/%v", c.ModSeq, c.UID, c.Kind, c.Flags))
		}
		return out
	}
	if g, w := key(got), key(want); !slices.Equal(g, w) {
		t.Fatalf("changes from the floor:\n got %v\nwant %v", g, w)
	}
}

// testLogTrimWhileReading: trims race readers and a writer. The writer
// toggles a flag, one MODSEQ per commit; the trimmer trims the log to the
// head it read logTrimLag earlier (what the purge's mark gives, with a
// history far shorter than any deployment's, but longer than the
// Cassandra head cache's 10 s freshness that its race argument needs);
// readers ask Changes from MODSEQs around the floor. Every answer is
// either store.ErrLogTrimmed with a floor above the asked MODSEQ, or
// every MODSEQ from it on, gapless, up to at least the head read before
// the call: never a short list.
func testLogTrimWhileReading(t testing.TB, e *env) {
	lt, ok := e.b.(store.LogTrimmer)
	if !ok {
		t.Skip("the backend does not trim its change log")
	}
	const (
		logTrimLag = 11 * time.Second
		run        = logTrimLag + 6*time.Second
	)
	u := e.user()
	mb := e.mailbox(u, "INBOX")
	uid := e.appendN(u, mb, e.msg("toggled"))[0]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	var trimmed, refused, answered atomic.Int64
	wg.Go(func() { // the writer
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			op := store.FlagsAdd
			if i%2 == 1 {
				op = store.FlagsRemove
			}
			if _, err := e.s.StoreFlags(e.ctx, mb, []mail.UID{uid}, op, mail.NewFlags(mail.FlagFlagged), 0); err != nil {
				fail(fmt.Errorf("StoreFlags: %w", err))
				return
			}
		}
	})
	wg.Go(func() { // the trimmer
		type sample struct {
			at time.Time
			m  mail.ModSeq
		}
		var samples []sample
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			h, err := e.s.Status(e.ctx, mb)
			if err != nil {
				fail(fmt.Errorf("status: %w", err))
				return
			}
			samples = append(samples, sample{time.Now(), h.ModSeq})
			var upto mail.ModSeq
			for len(samples) > 0 && time.Since(samples[0].at) >= logTrimLag {
				upto = samples[0].m
				samples = samples[1:]
			}
			if upto == 0 {
				continue
			}
			n, err := lt.TrimLog(e.ctx, mb.ID, store.TrimRequest{Upto: upto, Next: store.LogMark{ModSeq: h.ModSeq, At: time.Now()}})
			if err != nil {
				fail(fmt.Errorf("TrimLog(%d): %w", upto, err))
				return
			}
			trimmed.Add(n.Entries)
		}
	})
	for r := range 2 { // the readers
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(r), 7))
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor, err := e.s.LogFloor(e.ctx, mb)
				if err != nil {
					fail(fmt.Errorf("LogFloor: %w", err))
					return
				}
				h, err := e.s.Status(e.ctx, mb)
				if err != nil {
					fail(fmt.Errorf("status: %w", err))
					return
				}
				// Half the time around the floor, else up to the head.
				lo, hi := max(int64(floor)-100, 0), int64(h.ModSeq)
				if rnd.IntN(2) == 0 {
					hi = min(hi, int64(floor)+20)
				}
				since := mail.ModSeq(lo + rnd.Int64N(hi-lo+1))
				next := max(since+1, 2) // MODSEQ 1 is the mailbox's creation, not a change
				err = e.s.Changes(e.ctx, mb, since, func(c store.Change) error {
					if c.ModSeq != next && c.ModSeq != next-1 {
						return fmt.Errorf("Changes(%d) gave MODSEQ %d after %d: a gap", since, c.ModSeq, next-1)
					}
					next = c.ModSeq + 1
					return nil
				})
				var te *store.LogTrimmedError
				switch {
				case errors.As(err, &te):
					if te.Floor <= since {
						fail(fmt.Errorf("Changes(%d) refused with a floor of %d", since, te.Floor))
						return
					}
					refused.Add(1)
				case err != nil:
					fail(err)
					return
				case next-1 < h.ModSeq:
					fail(fmt.Errorf("Changes(%d) ended at %d, before the head %d read before it", since, next-1, h.ModSeq))
					return
				default:
					answered.Add(1)
				}
			}
		})
	}
	select {
	case err := <-errs:
		close(stop)
		wg.Wait()
		t.Fatal(err)
	case <-time.After(run):
	}
	close(stop)
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if trimmed.Load() == 0 || refused.Load() == 0 || answered.Load() == 0 {
		t.Fatalf("trimmed %d entries, %d answers refused, %d given: the race was not run", trimmed.Load(), refused.Load(), answered.Load())
	}
	t.Logf("trimmed %d entries; %d answers refused below the floor, %d given whole", trimmed.Load(), refused.Load(), answered.Load())
	e.check(mb)
}
