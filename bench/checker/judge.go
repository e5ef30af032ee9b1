package main

// judgeSync checks one sync of mailbox mb by client id: s is what SELECT
// (with QRESYNC from last, the client's previous view, when there is one)
// reported, fetchLines the untagged responses to the FETCH 1:<EXISTS>
// (UID FLAGS MODSEQ) that followed, of which only those numbered 1 to
// EXISTS are its answers (fetchAnswers). It reports what breaks an
// invariant through bad and returns the new view.
func judgeSync(id int, mb string, last *view, s selected, fetchLines [][]byte, bad func(format string, args ...any)) *view {
	full := map[uint32]fetched{}
	var order []uint32
	for _, f := range fetchAnswers(fetchLines, s.exists) {
		if _, dup := full[f.uid]; !dup {
			order = append(order, f.uid)
		}
		full[f.uid] = f
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			bad("client %d: %s UIDs not ascending in sequence order: %d after %d", id, mb, order[i], order[i-1])
		}
	}
	for _, u := range order {
		if u >= s.uidNext {
			bad("client %d: %s UID %d not below UIDNEXT %d", id, mb, u, s.uidNext)
		}
	}
	if int(s.exists) != len(order) {
		bad("client %d: %s has %d EXISTS but FETCH 1:%d returned %d messages", id, mb, s.exists, s.exists, len(order))
	}
	if last != nil && s.uidValidity == last.uidValidity {
		// QRESYNC (RFC 7162 3.2.5): the last view, less VANISHED, plus the
		// changed messages, is the mailbox at SELECT.
		want := map[uint32]string{}
		for u, f := range last.flags {
			want[u] = f
		}
		for _, u := range s.vanished {
			delete(want, u)
		}
		for _, f := range s.changed {
			want[f.uid] = f.flags
		}
		for u := range want {
			if _, ok := full[u]; !ok {
				bad("client %d: QRESYNC of %s from MODSEQ %d says UID %d exists, a full FETCH does not show it", id, mb, last.modSeq, u)
			}
		}
		for u, f := range full {
			w, ok := want[u]
			switch {
			case !ok:
				bad("client %d: full FETCH of %s shows UID %d, QRESYNC from MODSEQ %d did not report it", id, mb, u, last.modSeq)
			case f.modSeq <= s.modSeq && w != f.flags:
				bad("client %d: %s UID %d: QRESYNC from MODSEQ %d gives flags (%s), a full FETCH (%s)", id, mb, u, last.modSeq, w, f.flags)
			}
		}
	}
	v := &view{uidValidity: s.uidValidity, uidNext: s.uidNext, modSeq: s.modSeq, flags: map[uint32]string{}}
	for u, f := range full {
		v.flags[u] = f.flags
	}
	return v
}
