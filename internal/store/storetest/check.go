package storetest

import (
	"fmt"
	"strings"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

func modseq(v uint64) mail.ModSeq { return mail.ModSeq(v) }

// msg returns a small message whose body includes tag, stored in the backend.
func (e *env) msg(tag string, flags ...string) store.NewMessage {
	e.t.Helper()
	raw := fmt.Sprintf("From: A <a@example.test>\r\nTo: b@example.test\r\nSubject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\nbody %s\r\n", tag, randHex(8), tag)
	return e.put(raw, flags...)
}

// put spools and stores raw, returning a message ready to append.
func (e *env) put(raw string, flags ...string) store.NewMessage {
	e.t.Helper()
	sp, err := e.s.Spool(strings.NewReader(raw), 0)
	if err != nil {
		e.t.Fatalf("Spool: %v", err)
	}
	defer sp.Close()
	if err := e.s.PutBody(e.ctx, sp); err != nil {
		e.t.Fatalf("PutBody: %v", err)
	}
	return store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure, Flags: mail.NewFlags(flags...)}
}

func (e *env) appendN(u store.User, mb store.Mailbox, msgs ...store.NewMessage) []mail.UID {
	e.t.Helper()
	uids, err := e.s.Append(e.ctx, u, mb, msgs...)
	if err != nil {
		e.t.Fatalf("Append: %v", err)
	}
	return uids
}

// check verifies the invariants of a quiescent mailbox: the head's counts
// match its rows, UIDs ascend below UIDNEXT, and replaying the whole change
// log gives exactly the live rows and their flags.
func (e *env) check(mb store.Mailbox) {
	e.t.Helper()
	h := e.head(mb)
	rows := e.rows(mb)
	var want store.Head
	want.UIDNext, want.ModSeq = h.UIDNext, h.ModSeq
	var last mail.UID
	for _, r := range rows {
		if r.UID <= last {
			e.t.Fatalf("%s: UIDs not ascending: %d after %d", mb.Name, r.UID, last)
		}
		if r.UID >= h.UIDNext {
			e.t.Fatalf("%s: UID %d not below UIDNEXT %d", mb.Name, r.UID, h.UIDNext)
		}
		if r.ModSeq > h.ModSeq {
			e.t.Fatalf("%s: row %d MODSEQ %d above HIGHESTMODSEQ %d", mb.Name, r.UID, r.ModSeq, h.ModSeq)
		}
		last = r.UID
		want.Messages++
		want.Size += r.Meta.Size
		if !r.Flags.Has(mail.FlagSeen) {
			want.Unseen++
		}
		if r.Flags.Has(mail.FlagDeleted) {
			want.Deleted++
		}
	}
	if h != want {
		e.t.Fatalf("%s: head %+v, recount from rows %+v", mb.Name, h, want)
	}
	e.checkStates(mb, rows)
	replay := map[mail.UID]mail.Flags{}
	var prev mail.ModSeq
	for _, c := range e.changes(mb, 0) {
		if c.ModSeq < prev || c.ModSeq > h.ModSeq {
			e.t.Fatalf("%s: change log out of order: MODSEQ %d after %d (head %d)", mb.Name, c.ModSeq, prev, h.ModSeq)
		}
		prev = c.ModSeq
		switch c.Kind {
		case store.ChangeAppend:
			if _, dup := replay[c.UID]; dup {
				e.t.Fatalf("%s: UID %d appended twice", mb.Name, c.UID)
			}
			replay[c.UID] = c.Flags
		case store.ChangeFlags:
			if _, ok := replay[c.UID]; !ok {
				e.t.Fatalf("%s: flags change for UID %d not appended before", mb.Name, c.UID)
			}
			replay[c.UID] = c.Flags
		case store.ChangeExpunge:
			delete(replay, c.UID)
		}
	}
	if prev != h.ModSeq && len(rows) > 0 {
		e.t.Fatalf("%s: change log ends at MODSEQ %d, head says %d", mb.Name, prev, h.ModSeq)
	}
	if len(replay) != len(rows) {
		e.t.Fatalf("%s: change log replays to %d messages, mailbox has %d", mb.Name, len(replay), len(rows))
	}
	for _, r := range rows {
		if f, ok := replay[r.UID]; !ok || !f.Equal(r.Flags) {
			e.t.Fatalf("%s: UID %d: replayed flags %v, row flags %v", mb.Name, r.UID, f, r.Flags)
		}
	}
}

// checkStates verifies that States lists exactly the rows' UIDs, MODSEQs
// and flags, for the whole mailbox and for a range inside it.
func (e *env) checkStates(mb store.Mailbox, rows []store.MessageRow) {
	e.t.Helper()
	states := func(lo, hi mail.UID) []store.MessageState {
		var out []store.MessageState
		if err := e.s.States(e.ctx, mb, lo, hi, func(s store.MessageState) error {
			out = append(out, s)
			return nil
		}); err != nil {
			e.t.Fatalf("States(%s): %v", mb.Name, err)
		}
		return out
	}
	same := func(what string, got []store.MessageState, want []store.MessageRow) {
		if len(got) != len(want) {
			e.t.Fatalf("%s: States%s lists %d messages, Messages %d", mb.Name, what, len(got), len(want))
		}
		for i, r := range want {
			if g := got[i]; g.UID != r.UID || g.ModSeq != r.ModSeq || !g.Flags.Equal(r.Flags) {
				e.t.Fatalf("%s: States%s[%d] = %+v, Messages has UID %d MODSEQ %d flags %v", mb.Name, what, i, g, r.UID, r.ModSeq, r.Flags)
			}
		}
	}
	same("", states(1, 0), rows)
	if len(rows) >= 3 {
		lo, hi := rows[1].UID, rows[len(rows)-2].UID
		same(fmt.Sprintf("(%d:%d)", lo, hi), states(lo, hi), rows[1:len(rows)-1])
	}
}
