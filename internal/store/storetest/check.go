package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

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
	return Put(e.t, e.ctx, e.s, raw, flags...)
}

// Put spools raw and stores its body through s, and returns a message
// with flags ready to append; a failure fails t.
func Put(t testing.TB, ctx context.Context, s *store.Store, raw string, flags ...string) store.NewMessage {
	t.Helper()
	sp, err := s.Spool(strings.NewReader(raw), 0)
	if err != nil {
		t.Fatalf("Spool: %v", err)
	}
	defer sp.Close()
	if err := s.PutBody(ctx, sp); err != nil {
		t.Fatalf("PutBody: %v", err)
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

// check verifies the invariants of a quiescent mailbox (CheckMailbox).
func (e *env) check(mb store.Mailbox) {
	e.t.Helper()
	if err := CheckMailbox(e.ctx, e.s, mb); err != nil {
		e.t.Fatal(err)
	}
}

// CheckMailbox verifies the invariants of a quiescent mailbox and returns
// the first it finds broken: the head's counts match its rows, UIDs ascend
// below UIDNEXT, States lists exactly the rows, and replaying the whole
// change log gives exactly the live rows and their flags. A backend's crash
// tests run it on the store reopened after each crash.
func CheckMailbox(ctx context.Context, s *store.Store, mb store.Mailbox) error {
	h, err := s.Status(ctx, mb)
	if err != nil {
		return fmt.Errorf("Status(%s): %w", mb.Name, err)
	}
	rows, err := collect(func(fn func(store.MessageRow) error) error { return s.Messages(ctx, mb, 1, 0, fn) })
	if err != nil {
		return fmt.Errorf("Messages(%s): %w", mb.Name, err)
	}
	var want store.Head
	want.UIDNext, want.ModSeq = h.UIDNext, h.ModSeq
	var last mail.UID
	for _, r := range rows {
		if r.UID <= last {
			return fmt.Errorf("%s: UIDs not ascending: %d after %d", mb.Name, r.UID, last)
		}
		if r.UID >= h.UIDNext {
			return fmt.Errorf("%s: UID %d not below UIDNEXT %d", mb.Name, r.UID, h.UIDNext)
		}
		if r.ModSeq > h.ModSeq {
			return fmt.Errorf("%s: row %d MODSEQ %d above HIGHESTMODSEQ %d", mb.Name, r.UID, r.ModSeq, h.ModSeq)
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
		return fmt.Errorf("%s: head %+v, recount from rows %+v", mb.Name, h, want)
	}
	if err := checkStates(ctx, s, mb, rows); err != nil {
		return err
	}
	// A trimmed log is replayed from its floor, over the rows it no longer
	// describes (at or below the floor).
	floor, err := s.LogFloor(ctx, mb)
	if err != nil {
		return fmt.Errorf("LogFloor(%s): %w", mb.Name, err)
	}
	changes, err := collect(func(fn func(store.Change) error) error { return s.Changes(ctx, mb, floor, fn) })
	if err != nil {
		return fmt.Errorf("Changes(%s, %d): %w", mb.Name, floor, err)
	}
	replay := map[mail.UID]mail.Flags{}
	for _, r := range rows {
		if r.ModSeq <= floor {
			replay[r.UID] = r.Flags
		}
	}
	prev := floor
	for _, c := range changes {
		if c.ModSeq <= floor {
			return fmt.Errorf("%s: Changes(%d) returned MODSEQ %d", mb.Name, floor, c.ModSeq)
		}
		if c.ModSeq < prev || c.ModSeq > h.ModSeq {
			return fmt.Errorf("%s: change log out of order: MODSEQ %d after %d (head %d)", mb.Name, c.ModSeq, prev, h.ModSeq)
		}
		prev = c.ModSeq
		switch c.Kind {
		case store.ChangeAppend:
			if _, dup := replay[c.UID]; dup {
				return fmt.Errorf("%s: UID %d appended twice", mb.Name, c.UID)
			}
			replay[c.UID] = c.Flags
		case store.ChangeFlags:
			if _, ok := replay[c.UID]; !ok && floor == 0 {
				return fmt.Errorf("%s: flags change for UID %d not appended before", mb.Name, c.UID)
			}
			replay[c.UID] = c.Flags
		case store.ChangeExpunge:
			delete(replay, c.UID)
		}
	}
	if prev != h.ModSeq && len(rows) > 0 && len(changes) > 0 {
		return fmt.Errorf("%s: change log ends at MODSEQ %d, head says %d", mb.Name, prev, h.ModSeq)
	}
	if len(replay) != len(rows) {
		return fmt.Errorf("%s: change log replays to %d messages, mailbox has %d", mb.Name, len(replay), len(rows))
	}
	for _, r := range rows {
		if f, ok := replay[r.UID]; !ok || !f.Equal(r.Flags) {
			return fmt.Errorf("%s: UID %d: replayed flags %v, row flags %v", mb.Name, r.UID, f, r.Flags)
		}
	}
	return nil
}

// checkStates verifies that States lists exactly the rows' UIDs, MODSEQs
// and flags, for the whole mailbox and for a range inside it.
func checkStates(ctx context.Context, s *store.Store, mb store.Mailbox, rows []store.MessageRow) error {
	same := func(lo, hi mail.UID, want []store.MessageRow) error {
		what := ""
		if lo != 1 || hi != 0 {
			what = fmt.Sprintf("(%d:%d)", lo, hi)
		}
		got, err := collect(func(fn func(store.MessageState) error) error { return s.States(ctx, mb, lo, hi, fn) })
		if err != nil {
			return fmt.Errorf("States%s(%s): %w", what, mb.Name, err)
		}
		if len(got) != len(want) {
			return fmt.Errorf("%s: States%s lists %d messages, Messages %d", mb.Name, what, len(got), len(want))
		}
		for i, r := range want {
			if g := got[i]; g.UID != r.UID || g.ModSeq != r.ModSeq || !g.Flags.Equal(r.Flags) {
				return fmt.Errorf("%s: States%s[%d] = %+v, Messages has UID %d MODSEQ %d flags %v", mb.Name, what, i, g, r.UID, r.ModSeq, r.Flags)
			}
		}
		return nil
	}
	if err := same(1, 0, rows); err != nil || len(rows) < 3 {
		return err
	}
	return same(rows[1].UID, rows[len(rows)-2].UID, rows[1:len(rows)-1])
}

// collect gathers what a callback-style listing yields.
func collect[T any](list func(func(T) error) error) ([]T, error) {
	var out []T
	err := list(func(v T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}
