package imapserver

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// oldRefresh is refresh as it read before issue 16, without the writing:
// the oracle the linear reading is held against. It returns the new
// messages and the reported flag changes (UID order). Since then a new
// message's flag changes are not reported either, only its appends were
// (delta.reports).
func oldRefresh(s *selected, log []store.Change) (added []mail.UID, reported []store.Change) {
	var (
		newUIDs []mail.UID
		flags   = map[mail.UID]store.Change{}
		gone    []mail.UID
		last    = s.modseq
	)
	for _, ch := range log {
		last = max(last, ch.ModSeq)
		switch ch.Kind {
		case store.ChangeAppend:
			if ch.UID >= s.uidNext {
				newUIDs = append(newUIDs, ch.UID)
				s.uidNext = ch.UID + 1
			}
			flags[ch.UID] = ch
		case store.ChangeFlags:
			flags[ch.UID] = ch
		case store.ChangeExpunge:
			gone = append(gone, ch.UID)
		}
	}
	goneSet := map[mail.UID]bool{}
	for _, u := range gone {
		goneSet[u] = true
	}
	for _, u := range newUIDs {
		if !goneSet[u] {
			s.uids = append(s.uids, u)
			added = append(added, u)
		}
	}
	var changed []mail.UID
	for u, ch := range flags {
		if slices.Contains(newUIDs, u) {
			continue
		}
		if goneSet[u] || s.gone[u] || s.seq(u) == 0 || slices.Contains(s.own[ch.ModSeq], u) {
			continue
		}
		changed = append(changed, u)
	}
	slices.Sort(changed)
	for _, u := range changed {
		reported = append(reported, flags[u])
	}
	for _, u := range gone {
		if s.seq(u) != 0 {
			s.gone[u] = true
		}
	}
	for m := range s.own {
		if m <= last {
			delete(s.own, m)
		}
	}
	s.modseq = last
	return added, reported
}

// randomView is a view of up to n messages with some pending expunges and
// own changes, at MODSEQ 100.
func randomView(r *rand.Rand, n int) *selected {
	s := &selected{gone: map[mail.UID]bool{}, own: map[mail.ModSeq][]mail.UID{}, modseq: 100}
	for u := mail.UID(1); u <= mail.UID(n); u++ {
		if r.IntN(3) > 0 {
			s.uids = append(s.uids, u)
			if r.IntN(8) == 0 {
				s.gone[u] = true
			}
		}
	}
	s.uidNext = mail.UID(n + 1)
	return s
}

// randomLog is a change log after MODSEQ 100 over UIDs up to about 2n:
// appends above the view (some below it, as a replayed log has), flag
// changes and expunges of any UID. Own changes are recorded in s.own for
// some of the flag changes, as STORE records them.
func randomLog(r *rand.Rand, s *selected, n int) []store.Change {
	var log []store.Change
	flagSets := []mail.Flags{nil, {`\Seen`}, {`\Deleted`, `\Seen`}, {"$Junk"}}
	next := s.uidNext
	for m := mail.ModSeq(101); len(log) < 3*n; m++ {
		var batch []store.Change
		for range 1 + r.IntN(4) {
			ch := store.Change{ModSeq: m, Flags: flagSets[r.IntN(len(flagSets))]}
			switch r.IntN(4) {
			case 0, 1:
				ch.Kind, ch.UID = store.ChangeAppend, next
				if r.IntN(10) == 0 {
					ch.UID = mail.UID(1 + r.IntN(int(next)))
				} else {
					next++
				}
			case 2:
				ch.Kind, ch.UID = store.ChangeFlags, mail.UID(1+r.IntN(int(next)))
				if r.IntN(3) == 0 {
					s.own[m] = append(s.own[m], ch.UID)
				}
			case 3:
				ch.Kind, ch.UID = store.ChangeExpunge, mail.UID(1+r.IntN(int(next)))
			}
			batch = append(batch, ch)
		}
		slices.SortStableFunc(batch, func(a, b store.Change) int { return int(a.UID) - int(b.UID) })
		log = append(log, batch...)
	}
	if r.IntN(4) == 0 {
		s.own[mail.ModSeq(101+len(log))] = []mail.UID{1} // beyond the log: kept
	}
	return log
}

func cloneView(s *selected) *selected {
	c := *s
	c.uids = slices.Clone(s.uids)
	c.gone = maps.Clone(s.gone)
	c.own = map[mail.ModSeq][]mail.UID{}
	for m, u := range s.own {
		c.own[m] = slices.Clone(u)
	}
	return &c
}

// TestRefreshDeltaMatchesOldReading holds apply, over random views and
// change logs, to the quadratic reading it replaced: the same new
// messages, the same FETCH reports in the same order, the same view after.
func TestRefreshDeltaMatchesOldReading(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 3))
	for i := range 500 {
		n := 1 + r.IntN(60)
		s := randomView(r, n)
		log := randomLog(r, s, n)
		want := cloneView(s)
		wantAdded, wantReported := oldRefresh(want, log)

		d := newDelta(s)
		for _, ch := range log {
			d.add(ch)
		}
		added, reports := s.apply(d)
		var reported []store.Change
		for _, rp := range reports {
			reported = append(reported, store.Change{ModSeq: rp.modSeq, UID: rp.uid, Flags: rp.flags})
		}
		for i := range wantReported {
			wantReported[i].Kind, wantReported[i].Meta = 0, nil // a report says what the flags are, not how
		}
		if !slices.Equal(added, wantAdded) {
			t.Fatalf("case %d: added %v, the old reading %v", i, added, wantAdded)
		}
		if !reflect.DeepEqual(reported, wantReported) {
			t.Fatalf("case %d: reported %v, the old reading %v", i, reported, wantReported)
		}
		if !reflect.DeepEqual(s, want) {
			t.Fatalf("case %d: view after\n%+v\nthe old reading\n%+v", i, s, want)
		}
	}
}

// BenchmarkRefreshAfterAppends is a NOOP after n appends to a mailbox of n
// messages (issue 16: 2.54 s at 128,000). ns/change must stay flat as n
// doubles; the old reading's (old/n, up to 32,000) doubles with n.
func BenchmarkRefreshAfterAppends(b *testing.B) {
	for _, n := range []int{16000, 32000, 64000, 128000} {
		for _, old := range []bool{false, true} {
			if old && n > 32000 {
				continue
			}
			name := fmt.Sprint(n)
			if old {
				name = "old/" + name
			}
			benchRefresh(b, name, n, old)
		}
	}
}

func benchRefresh(b *testing.B, name string, n int, old bool) {
	b.Run(name, func(b *testing.B) {
		base := &selected{gone: map[mail.UID]bool{}, own: map[mail.ModSeq][]mail.UID{}, modseq: 1}
		for u := range n {
			base.uids = append(base.uids, mail.UID(u+1))
		}
		base.uidNext = mail.UID(n + 1)
		log := make([]store.Change, n)
		for i := range log {
			log[i] = store.Change{ModSeq: mail.ModSeq(i + 2), UID: mail.UID(n + 1 + i), Kind: store.ChangeAppend}
		}
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			s := cloneView(base)
			b.StartTimer()
			if old {
				oldRefresh(s, log)
				continue
			}
			d := newDelta(s)
			for _, ch := range log {
				d.add(ch)
			}
			s.apply(d)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/change")
	})
}
