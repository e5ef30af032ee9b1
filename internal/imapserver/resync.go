package imapserver

import (
	"context"
	"sort"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// The store's change log keeps a history (store.purge.log_history), and
// Changes since a MODSEQ older than it fails with store.ErrLogTrimmed
// rather than return a short list. What a client is owed then comes from
// the messages themselves, which need no log:
//
//   - flag changes since MODSEQ m: every message whose MODSEQ is above m
//     (RFC 7162 3.1: a message's MODSEQ is that of its last change), as
//     SELECT (QRESYNC) and CHANGEDSINCE compute them anyway;
//   - expunges since m: the UIDs the client may know (its known UIDs, or
//     every UID below UIDNEXT) that are no longer in the mailbox. Some may
//     have gone before m or never have been used: RFC 7162 3.2.5.2 and
//     3.2.6 allow a VANISHED (EARLIER) to name such UIDs when the server
//     cannot tell (the client ignores UIDs it does not have, 3.2.10), and
//     the sequence match data of 3.2.5.2 narrows the list to the UIDs
//     above the last one whose sequence number the client still has right
//     (an expunge below it would have moved its number).
//
// So the answer is complete, only longer than the log's.

// absentUIDs returns, in compact form, the UIDs of set (every UID when
// set is nil; "*" is top) above after and at most top that are not in
// live (ascending): the UIDs to report VANISHED (EARLIER) when the log no
// longer reaches back. "" if none.
func absentUIDs(set *imapwire.SeqSet, after, top mail.UID, live []mail.UID) string {
	if top <= after {
		return ""
	}
	ranges := []imapwire.SeqRange{{Start: uint32(after) + 1, Stop: uint32(top)}}
	if set != nil {
		ranges = ranges[:0]
		for _, r := range set.Normalize(uint32(top)) {
			r.Start, r.Stop = max(r.Start, uint32(after)+1), min(r.Stop, uint32(top))
			if r.Start <= r.Stop {
				ranges = append(ranges, r)
			}
		}
	}
	var out imapwire.SeqSet
	for _, r := range ranges {
		i := sort.Search(len(live), func(i int) bool { return uint32(live[i]) >= r.Start })
		next := uint64(r.Start)
		for ; i < len(live) && uint32(live[i]) <= r.Stop; i++ {
			if uint64(live[i]) > next {
				out.Ranges = append(out.Ranges, imapwire.SeqRange{Start: uint32(next), Stop: uint32(live[i]) - 1})
			}
			next = uint64(live[i]) + 1
		}
		if next <= uint64(r.Stop) {
			out.Ranges = append(out.Ranges, imapwire.SeqRange{Start: uint32(next), Stop: r.Stop})
		}
	}
	if len(out.Ranges) == 0 {
		return ""
	}
	return out.String()
}

// matchedUpTo returns the highest UID of the QRESYNC sequence match data
// (RFC 7162 3.2.5.2) up to which every pair still holds in s: message
// sequence number seq[i] is still UID uid[i]. No message at or below it
// was expunged since the client's view, so VANISHED need not name those
// UIDs. 0 without match data or when the first pair fails.
func matchedUpTo(s *selected, q *imapwire.QResyncParams) mail.UID {
	if q.SeqMatch == nil || q.UIDMatch == nil {
		return 0
	}
	var seqs, uids []uint32
	for n := range q.SeqMatch.All(s.exists()) {
		seqs = append(seqs, n)
		if len(seqs) > 1<<16 {
			return 0
		}
	}
	for n := range q.UIDMatch.All(uint32(s.maxUID())) {
		uids = append(uids, n)
		if len(uids) > 1<<16 {
			return 0
		}
	}
	if len(seqs) != len(uids) {
		return 0 // RFC 7162 3.2.5.2: both lists have the same length; ignore the data
	}
	var upTo mail.UID
	for i := range seqs {
		if s.seq(mail.UID(uids[i])) != seqs[i] || mail.UID(uids[i]) < upTo {
			break
		}
		upTo = mail.UID(uids[i])
	}
	return upTo
}

// resyncDelta builds what refresh reports when the log no longer reaches
// back to the view's MODSEQ: from the head and the message states, new
// messages (UIDs at or above the view's UIDNEXT), flag changes (states
// with a MODSEQ above the view's) and expunges (UIDs of the view without
// a state).
func (s *selected) resyncDelta(ctx context.Context, c *conn) (*delta, error) {
	d := newDelta(s)
	live := map[mail.UID]bool{}
	head, err := c.srv.opts.Store.Select(ctx, s.mb, func(r store.MessageState) error {
		live[r.UID] = true
		switch {
		case r.UID >= d.uidNext:
			d.add(store.Change{ModSeq: r.ModSeq, UID: r.UID, Kind: store.ChangeAppend, Flags: r.Flags})
		case r.ModSeq > s.modseq:
			d.add(store.Change{ModSeq: r.ModSeq, UID: r.UID, Kind: store.ChangeFlags, Flags: r.Flags})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, u := range s.uids {
		if !live[u] && !s.gone[u] {
			d.add(store.Change{UID: u, Kind: store.ChangeExpunge})
		}
	}
	d.last = max(d.last, head.ModSeq)
	d.uidNext = max(d.uidNext, head.UIDNext)
	return d, nil
}
