package imapserver

import (
	"cmp"
	"slices"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// delta gathers a run of a mailbox's change log for refresh. Each method
// costs O(1) per change (amortized) and finish O(n log n) in the changes
// read, so a NOOP after 128,000 appends costs what 128,000 map writes cost,
// not 128,000² comparisons (issue 16: the old reading searched the list of
// new UIDs once per change).
type delta struct {
	base    mail.UID    // the view's UIDNEXT before the refresh
	uidNext mail.UID    // the view's UIDNEXT, moved past new messages
	last    mail.ModSeq // highest MODSEQ read
	added   []mail.UID  // appends above the view, in log order (ascending)
	// flags holds the last append or flags change per UID of the view:
	// none of a new message (UID at or above base), whose flags the
	// client fetches itself, so a NOOP after 128,000 appends keeps no map
	// of them.
	flags  map[mail.UID]flagState
	gone   []mail.UID // expunges, in log order
	isGone map[mail.UID]bool
}

// flagState is what a change says of a message's flags; the change's Meta
// is not kept, so the delta of 128,000 appends holds no message metadata.
type flagState struct {
	modSeq mail.ModSeq
	flags  mail.Flags
}

func newDelta(s *selected) *delta {
	return &delta{base: s.uidNext, uidNext: s.uidNext, last: s.modseq, flags: map[mail.UID]flagState{}, isGone: map[mail.UID]bool{}}
}

// add records one change; changes come in ascending (MODSEQ, UID) order.
func (d *delta) add(ch store.Change) {
	d.last = max(d.last, ch.ModSeq)
	switch ch.Kind {
	case store.ChangeAppend:
		if ch.UID >= d.uidNext {
			d.added = append(d.added, ch.UID)
			d.uidNext = ch.UID + 1
			return
		}
		d.setFlags(ch) // a replayed append
	case store.ChangeFlags:
		d.setFlags(ch)
	case store.ChangeExpunge:
		d.gone = append(d.gone, ch.UID)
		d.isGone[ch.UID] = true
	}
}

// setFlags records the flags an append or flags change leaves a message
// of the view with. A message this refresh adds (or a UID at or above the
// view's UIDNEXT never added) gets no FETCH from it, even when its flags
// changed after the append: the client knows nothing of it yet and
// fetches it itself (RFC 9051 5.2 asks for flag updates of the messages a
// client knows). A client that took every FETCH response during its FETCH
// 1:n for an answer counted such a message as an n+1-th (the checker's
// false alarm, docs/ARCHITECTURE.md "The session view").
func (d *delta) setFlags(ch store.Change) {
	if ch.UID >= d.base {
		return
	}
	d.flags[ch.UID] = flagState{modSeq: ch.ModSeq, flags: ch.Flags}
}

// flagReport is one flag change refresh reports as FETCH.
type flagReport struct {
	uid mail.UID
	flagState
}

// newUIDs returns the messages to add to the view, ascending: a message
// both added and expunged since the last look was never seen by the
// client and is skipped.
func (d *delta) newUIDs() []mail.UID {
	var out []mail.UID
	for _, u := range d.added {
		if !d.isGone[u] {
			out = append(out, u)
		}
	}
	return out
}

// reports returns the flag changes to report, ascending by UID: changes
// of messages the view held before this refresh (setFlags keeps no
// others), not expunged and not made by this session (s.own).
func (d *delta) reports(s *selected) []flagReport {
	var own map[ownChange]bool
	if len(s.own) > 0 {
		own = map[ownChange]bool{}
		for m, uids := range s.own {
			for _, u := range uids {
				own[ownChange{m, u}] = true
			}
		}
	}
	var out []flagReport
	for u, st := range d.flags {
		if d.isGone[u] || s.gone[u] || s.seq(u) == 0 || own[ownChange{st.modSeq, u}] {
			continue
		}
		out = append(out, flagReport{uid: u, flagState: st})
	}
	slices.SortFunc(out, func(a, b flagReport) int { return cmp.Compare(a.uid, b.uid) })
	return out
}

// ownChange is a flag change this session made: the MODSEQ it committed
// at and the message.
type ownChange struct {
	modSeq mail.ModSeq
	uid    mail.UID
}
