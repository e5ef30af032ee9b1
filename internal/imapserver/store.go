package imapserver

import (
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// cmdStore: STORE and UID STORE (RFC 9051 6.4.6) with UNCHANGEDSINCE (RFC
// 7162 3.1.3).
func (c *conn) cmdStore(a *imapwire.StoreArgs, byUID bool) result {
	s := c.sel
	if s.readOnly {
		return no("READ-ONLY", "Mailbox is read-only (EXAMINE); SELECT it to change flags")
	}
	for _, f := range a.Flags {
		if strings.EqualFold(f, `\Recent`) {
			return bad(`\Recent cannot be stored (RFC 3501 2.3.2)`)
		}
	}
	uids := s.resolve(a.Set, byUID)
	if a.HasUnchangedSince {
		c.enableCondStore()
	}
	if len(uids) == 0 {
		return ok("STORE completed (no messages)")
	}
	op := store.FlagsReplace
	switch a.Mode {
	case '+':
		op = store.FlagsAdd
	case '-':
		op = store.FlagsRemove
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	since := mail.ModSeq(a.UnchangedSince)
	if a.HasUnchangedSince && since == 0 {
		// RFC 7162 3.1.3: UNCHANGEDSINCE 0 always fails.
		return c.storeModified(uids, byUID)
	}
	res, err := c.srv.opts.Store.StoreFlags(ctx, s.mb, uids, op, mail.NewFlags(a.Flags...), since)
	if err != nil {
		return c.storeError("store", err, "")
	}
	for _, r := range res.Rows {
		changed := r.ModSeq > s.modseq
		if changed {
			s.own[r.ModSeq] = append(s.own[r.ModSeq], r.UID)
		}
		seq := s.seq(r.UID)
		if seq == 0 {
			continue
		}
		c.noteKeywords(r.Flags)
		switch {
		case !a.Silent:
			c.w.Raw("* " + strconv.FormatUint(uint64(seq), 10) + " FETCH (FLAGS ")
			c.writeFlags(r.Flags, s.recent[r.UID])
			if byUID {
				c.w.Raw(" UID " + strconv.FormatUint(uint64(r.UID), 10))
			}
			if c.enabled.condstore {
				c.w.Raw(" MODSEQ (" + strconv.FormatUint(uint64(r.ModSeq), 10) + ")")
			}
			c.w.Raw(")\r\n")
		case c.enabled.condstore && changed:
			// RFC 7162 3.1.3: .SILENT still reports the new MODSEQ.
			c.w.Raw("* " + strconv.FormatUint(uint64(seq), 10) + " FETCH (UID " + strconv.FormatUint(uint64(r.UID), 10) +
				" MODSEQ (" + strconv.FormatUint(uint64(r.ModSeq), 10) + "))\r\n")
		}
	}
	if len(res.Modified) > 0 {
		return c.storeModified(res.Modified, byUID)
	}
	return ok("STORE completed")
}

// storeModified is the reply when UNCHANGEDSINCE stopped some changes:
// OK [MODIFIED set], the set in UIDs or sequence numbers as the command
// used (RFC 7162 3.1.3).
func (c *conn) storeModified(uids []mail.UID, byUID bool) result {
	var set string
	if byUID {
		set = uidSet(uids)
	} else {
		seqs := make([]mail.UID, 0, len(uids))
		for _, u := range uids {
			if n := c.sel.seq(u); n != 0 {
				seqs = append(seqs, mail.UID(n))
			}
		}
		set = uidSet(sortedUnique(seqs))
	}
	return okCode("MODIFIED "+set, "Some messages were modified since; not stored")
}

// cmdExpunge: EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (6.4.9) remove the
// view's messages that have \Deleted.
func (c *conn) cmdExpunge(a *imapwire.UIDExpungeArgs) result {
	s := c.sel
	if s.readOnly {
		return no("READ-ONLY", "Mailbox is read-only (EXAMINE)")
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	var want map[mail.UID]bool
	if a != nil {
		want = map[mail.UID]bool{}
		for _, u := range s.resolve(a.Set, true) {
			want[u] = true
		}
	}
	var del []mail.UID
	err := c.srv.opts.Store.States(ctx, s.mb, 1, 0, func(r store.MessageState) error {
		if r.Flags.Has(`\Deleted`) && s.seq(r.UID) != 0 && (want == nil || want[r.UID]) {
			del = append(del, r.UID)
		}
		return nil
	})
	if err != nil {
		return c.storeError("expunge", err, "")
	}
	if len(del) == 0 {
		return ok("EXPUNGE completed")
	}
	gone, err := c.srv.opts.Store.Expunge(ctx, s.mb, del)
	if err != nil {
		return c.storeError("expunge", err, "")
	}
	s.expunged(c, sortedUnique(gone))
	return ok("EXPUNGE completed")
}

// cmdCopy: COPY and MOVE (RFC 9051 6.4.7, 6.4.8; RFC 6851) with COPYUID
// (RFC 4315). Bodies are shared, never copied.
func (c *conn) cmdCopy(a *imapwire.CopyArgs, byUID, move bool) result {
	s := c.sel
	name := "COPY"
	if move {
		name = "MOVE"
		if s.readOnly {
			return no("READ-ONLY", "Mailbox is read-only (EXAMINE); MOVE would expunge")
		}
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	dst, err := st.Mailbox(ctx, c.user, a.Mailbox)
	if err != nil {
		return c.storeError(strings.ToLower(name), err, "TRYCREATE")
	}
	uids := s.resolve(a.Set, byUID)
	if len(uids) == 0 {
		if !byUID && !a.Set.Saved && s.exists() > 0 {
			return bad("No messages in that sequence set")
		}
		return ok(name + " completed (no messages)")
	}
	owner, err := c.freshUser(ctx)
	if err != nil {
		return c.storeError(strings.ToLower(name), err, "")
	}
	var from, to []mail.UID
	if move && dst.ID != s.mb.ID {
		from, to, err = st.Move(ctx, owner, s.mb, dst, uids)
	} else {
		from, to, err = st.Copy(ctx, owner, s.mb, dst, uids)
	}
	if err != nil {
		return c.storeError(strings.ToLower(name), err, "TRYCREATE")
	}
	if len(from) == 0 {
		return no("EXPUNGEISSUED", "The messages were expunged by another session")
	}
	code := "COPYUID " + strconv.FormatUint(uint64(dst.UIDValidity), 10) + " " + uidSet(from) + " " + uidSet(to)
	if move && dst.ID != s.mb.ID {
		// RFC 6851 4.3: COPYUID goes out untagged, before the expunges.
		c.w.Status("", "OK", code, "Moved")
		s.expunged(c, from)
		return ok("MOVE completed")
	}
	if move { // to the same mailbox: new UIDs, old ones expunged
		if _, err := st.Expunge(ctx, s.mb, from); err != nil {
			return c.storeError("move", err, "")
		}
		c.w.Status("", "OK", code, "Moved")
		s.expunged(c, from)
		return ok("MOVE completed")
	}
	return okCode(code, "COPY completed")
}
