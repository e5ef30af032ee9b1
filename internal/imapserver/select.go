package imapserver

import (
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// systemFlags are the flags of RFC 9051 2.3.2 plus the keywords clients
// commonly set; PERMANENTFLAGS adds \* (any keyword may be created).
var systemFlags = []string{`\Answered`, `\Flagged`, `\Deleted`, `\Seen`, `\Draft`}

func (c *conn) untaggedNum(n uint64, what string) {
	c.w.Raw("* " + strconv.FormatUint(n, 10) + " " + what + "\r\n")
}

// fetchFlags reports a message's flags (RFC 9051 7.5.2), with UID and,
// under CONDSTORE, MODSEQ (RFC 7162 3.1.4, 3.2.4: QRESYNC needs the UID).
func (c *conn) fetchFlags(seq uint32, uid mail.UID, fs mail.Flags, m mail.ModSeq, recent bool) {
	c.noteKeywords(fs)
	c.w.Raw("* " + strconv.FormatUint(uint64(seq), 10) + " FETCH (UID " + strconv.FormatUint(uint64(uid), 10) + " FLAGS ")
	c.writeFlags(fs, recent)
	if c.enabled.condstore {
		c.w.Raw(" MODSEQ (" + strconv.FormatUint(uint64(m), 10) + ")")
	}
	c.w.Raw(")\r\n")
}

// writeFlags writes a flag list, adding \Recent for IMAP4rev1 clients.
func (c *conn) writeFlags(fs mail.Flags, recent bool) {
	if recent && !c.enabled.rev2 {
		c.w.FlagsPlus(fs, `\Recent`)
		return
	}
	c.w.Flags(fs)
}

// cmdSelect: SELECT and EXAMINE (RFC 9051 6.3.2, 6.3.3) with CONDSTORE and
// QRESYNC (RFC 7162 3.1.8, 3.2.5).
func (c *conn) cmdSelect(a *imapwire.SelectArgs, readOnly bool) result {
	if a.QResync != nil && !c.enabled.qresync {
		return bad("SELECT (QRESYNC ...) needs ENABLE QRESYNC first (RFC 7162 3.2.5)")
	}
	if c.sel != nil {
		// RFC 7162 3.2.11, RFC 9051 7.1: the old mailbox is closed first.
		c.sel, c.state = nil, authenticated
		c.w.Status("", "OK", "CLOSED", "Previous mailbox closed")
	}
	if a.CondStore {
		c.enabled.condstore = true
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	mb, err := st.Mailbox(ctx, c.user, a.Mailbox)
	if err != nil {
		return c.storeError("select", err, "NONEXISTENT")
	}
	s := &selected{mb: mb, readOnly: readOnly, gone: map[mail.UID]bool{}, recent: map[mail.UID]bool{},
		own: map[mail.ModSeq][]mail.UID{}}
	var (
		firstUnseen uint32
		keywords    = map[string]bool{}
		changed     []store.MessageState
	)
	head, err := st.Select(ctx, mb, func(r store.MessageState) error {
		s.uids = append(s.uids, r.UID)
		if firstUnseen == 0 && !r.Flags.Has(`\Seen`) {
			firstUnseen = uint32(len(s.uids))
		}
		for _, f := range r.Flags {
			if !strings.HasPrefix(f, `\`) {
				keywords[f] = true
			}
		}
		if a.QResync != nil && uint64(r.ModSeq) > a.QResync.ModSeq {
			changed = append(changed, r)
		}
		return nil
	})
	if err != nil {
		return c.storeError("select", err, "")
	}
	s.modseq = head.ModSeq
	s.uidNext = max(head.UIDNext, s.maxUID()+1)
	prev := c.srv.recent.claim(mb.ID, s.maxUID(), !readOnly)
	for _, u := range s.uids {
		if u > prev {
			s.recent[u] = true
		}
	}
	s.keywords = keywords
	flags := s.flagList()
	c.w.Raw("* FLAGS ")
	c.w.Flags(flags)
	c.w.Raw("\r\n")
	c.untaggedNum(uint64(len(s.uids)), "EXISTS")
	if !c.enabled.rev2 {
		c.untaggedNum(uint64(len(s.recent)), "RECENT")
		if firstUnseen > 0 {
			c.w.Status("", "OK", "UNSEEN "+strconv.FormatUint(uint64(firstUnseen), 10), "First unseen message")
		}
	}
	c.w.Status("", "OK", "UIDVALIDITY "+strconv.FormatUint(uint64(mb.UIDValidity), 10), "UIDs valid")
	c.w.Status("", "OK", "UIDNEXT "+strconv.FormatUint(uint64(s.uidNext), 10), "Predicted next UID")
	if readOnly {
		c.w.Status("", "OK", "PERMANENTFLAGS ()", "No permanent flags in a read-only mailbox")
	} else {
		c.w.Raw("* OK [PERMANENTFLAGS ")
		c.w.Flags(append(flags, `\*`))
		c.w.Raw("] Flags permitted\r\n")
	}
	c.w.Status("", "OK", "HIGHESTMODSEQ "+strconv.FormatUint(uint64(s.modseq), 10), "Highest mod-sequence")
	c.w.Status("", "OK", "MAILBOXID ("+mb.ID+")", "Mailbox ID")
	if q := a.QResync; q != nil && q.UIDValidity == mb.UIDValidity {
		if err := c.qresyncSelect(s, q, changed); err != nil {
			return c.storeError("select", err, "")
		}
	}
	c.sel, c.state = s, selectedState
	if readOnly {
		return okCode("READ-ONLY", "EXAMINE completed")
	}
	return okCode("READ-WRITE", "SELECT completed")
}

// qresyncSelect reports what changed since the client's last sync (RFC
// 7162 3.2.5.2): VANISHED (EARLIER) for expunges recorded in the change
// log after the client's mod-sequence (within its known UIDs), then FETCH
// for messages changed since. The log keeps every expunge of its history,
// so the answer is exact and sequence match data is not needed; before
// the history, the UIDs gone are reported instead (resync.go). The FETCH
// list needs no log: it is every message whose MODSEQ is above the
// client's (RFC 7162 3.1).
func (c *conn) qresyncSelect(s *selected, q *imapwire.QResyncParams, changed []store.MessageState) error {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	var vanished []mail.UID
	err := c.srv.opts.Store.Changes(ctx, s.mb, mail.ModSeq(q.ModSeq), func(ch store.Change) error {
		if ch.Kind == store.ChangeExpunge && ch.UID < s.uidNext && s.seq(ch.UID) == 0 &&
			(q.KnownUIDs == nil || q.KnownUIDs.Contains(uint32(ch.UID), uint32(s.uidNext-1))) {
			vanished = append(vanished, ch.UID)
		}
		return nil
	})
	if errors.Is(err, store.ErrLogTrimmed) {
		// The log no longer reaches back to the client's MODSEQ: name
		// every UID it may know that is gone (resync.go; RFC 7162
		// 3.2.5.2), above the sequence match data's last good pair.
		if set := absentUIDs(q.KnownUIDs, matchedUpTo(s, q), s.uidNext-1, s.uids); set != "" {
			c.w.Raw("* VANISHED (EARLIER) " + set + "\r\n")
		}
		vanished, err = nil, nil
	}
	if err != nil {
		return err
	}
	slices.Sort(vanished)
	vanished = slices.Compact(vanished)
	if len(vanished) > 0 {
		c.w.Raw("* VANISHED (EARLIER) " + uidSet(vanished) + "\r\n")
	}
	for _, r := range changed {
		c.fetchFlags(s.seq(r.UID), r.UID, r.Flags, r.ModSeq, s.recent[r.UID])
	}
	return nil
}

// cmdClose: CLOSE expunges \Deleted messages silently unless read-only
// (RFC 9051 6.4.1); UNSELECT does not (RFC 3691).
func (c *conn) cmdClose(expunge bool) result {
	s := c.sel
	c.sel, c.state = nil, authenticated
	if !expunge || s.readOnly {
		return ok(map[bool]string{true: "CLOSE completed", false: "UNSELECT completed"}[expunge])
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	var del []mail.UID
	err := c.srv.opts.Store.States(ctx, s.mb, 1, 0, func(r store.MessageState) error {
		if r.Flags.Has(`\Deleted`) {
			del = append(del, r.UID)
		}
		return nil
	})
	if err == nil && len(del) > 0 {
		_, err = c.srv.opts.Store.Expunge(ctx, s.mb, del)
	}
	if err != nil {
		return c.storeError("close", err, "")
	}
	return ok("CLOSE completed")
}
