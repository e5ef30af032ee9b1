package imapserver

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// selected is a session's view of its selected mailbox. Sequence number n
// is uids[n-1]. The view moves forward only in refresh, which reads the
// mailbox's change log from modseq on and tells the client, so what the
// client was told and the view never disagree (RFC 9051 7.5.1).
type selected struct {
	mb       store.Mailbox
	readOnly bool
	uids     []mail.UID // ascending
	// gone holds UIDs expunged in the store but still in uids because
	// the client has not been told yet (pending EXPUNGE).
	gone    map[mail.UID]bool
	modseq  mail.ModSeq // change log applied up to here
	uidNext mail.UID    // above every UID in the view
	recent  map[mail.UID]bool
	// own holds flag changes this session made and already reported, so
	// refresh does not report them again.
	own   map[mail.ModSeq][]mail.UID
	saved []mail.UID // SEARCHRES result, RFC 5182 ("$")
	// keywords are the keywords the client was told of in FLAGS.
	keywords map[string]bool
}

func (s *selected) exists() uint32 { return uint32(len(s.uids)) }

// seq returns the sequence number of uid, or 0.
func (s *selected) seq(uid mail.UID) uint32 {
	i, found := slices.BinarySearch(s.uids, uid)
	if !found {
		return 0
	}
	return uint32(i + 1)
}

func (s *selected) maxUID() mail.UID {
	if len(s.uids) == 0 {
		return 0
	}
	return s.uids[len(s.uids)-1]
}

// resolve turns a sequence set or UID set into the UIDs of the view it
// names, ascending. "*" is the last message (RFC 9051 9); a UID range
// names the UIDs of the view within it, so "UID 5:*" never names a
// message the client has not been told of.
func (s *selected) resolve(set imapwire.SeqSet, uid bool) []mail.UID {
	if set.Saved {
		out := make([]mail.UID, 0, len(s.saved))
		for _, u := range s.saved {
			if s.seq(u) != 0 {
				out = append(out, u)
			}
		}
		return out
	}
	var out []mail.UID
	if !uid {
		for n := range set.All(s.exists()) {
			if n <= s.exists() {
				out = append(out, s.uids[n-1])
			}
		}
		return out
	}
	star := uint32(s.maxUID())
	if star == 0 {
		return nil
	}
	for _, r := range set.Normalize(star) {
		i := sort.Search(len(s.uids), func(i int) bool { return uint32(s.uids[i]) >= r.Start })
		for ; i < len(s.uids) && uint32(s.uids[i]) <= r.Stop; i++ {
			out = append(out, s.uids[i])
		}
	}
	return out
}

// refresh reads changes since the view's modseq and reports them: new
// messages as EXISTS (and RECENT), flag changes as FETCH, expunges as
// EXPUNGE or VANISHED (RFC 7162 3.2.10) when allowExpunge, else they stay
// pending.
func (s *selected) refresh(ctx context.Context, c *conn, allowExpunge bool) error {
	d := newDelta(s)
	err := c.srv.opts.Store.Changes(ctx, s.mb, s.modseq, func(ch store.Change) error {
		d.add(ch)
		return nil
	})
	if errors.Is(err, store.ErrLogTrimmed) {
		// A session selected for longer than the log's history: its
		// view is moved from the messages instead (resync.go).
		d, err = s.resyncDelta(ctx, c)
	}
	if err != nil {
		return err
	}
	added, reports := s.apply(d)
	if len(added) > 0 {
		c.untaggedNum(uint64(len(s.uids)), "EXISTS")
		prev := c.srv.recent.claim(s.mb.ID, s.maxUID(), !s.readOnly)
		for _, u := range added {
			if u > prev {
				s.recent[u] = true
			}
		}
		if !c.enabled.rev2 {
			c.untaggedNum(uint64(len(s.recent)), "RECENT")
		}
	}
	for _, r := range reports {
		c.fetchFlags(s.seq(r.uid), r.uid, r.flags, r.modSeq, s.recent[r.uid])
	}
	if allowExpunge {
		s.flushExpunges(c)
	}
	return nil
}

// apply moves the view by d: new messages join it, expunges of its
// messages become pending, the session's own changes d covers are
// forgotten and the view's MODSEQ becomes d's. It returns the new
// messages and the flag changes to report, both ascending by UID.
func (s *selected) apply(d *delta) (added []mail.UID, reports []flagReport) {
	added = d.newUIDs()
	s.uids = append(s.uids, added...)
	s.uidNext = d.uidNext
	reports = d.reports(s)
	for _, u := range d.gone {
		if s.seq(u) != 0 {
			s.gone[u] = true
		}
	}
	for m := range s.own {
		if m <= d.last {
			delete(s.own, m)
		}
	}
	s.modseq = d.last
	return added, reports
}

// flushExpunges removes pending expunges from the view and reports them.
func (s *selected) flushExpunges(c *conn) {
	if len(s.gone) == 0 {
		return
	}
	var uids []mail.UID
	for u := range s.gone {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	s.expunged(c, uids)
	clear(s.gone)
}

// expunged removes uids (ascending, all in the view) and reports them: one
// VANISHED with QRESYNC, else EXPUNGE from the highest sequence number
// down, so each number is valid when sent (RFC 9051 7.5.1).
func (s *selected) expunged(c *conn, uids []mail.UID) {
	if len(uids) == 0 {
		return
	}
	if c.enabled.qresync {
		c.w.Raw("* VANISHED " + uidSet(uids) + "\r\n")
	} else {
		for i := len(uids) - 1; i >= 0; i-- {
			if n := s.seq(uids[i]); n != 0 {
				c.untaggedNum(uint64(n), "EXPUNGE")
			}
		}
	}
	drop := make(map[mail.UID]bool, len(uids))
	for _, u := range uids {
		drop[u] = true
		delete(s.recent, u)
		delete(s.gone, u)
	}
	s.uids = slices.DeleteFunc(s.uids, func(u mail.UID) bool { return drop[u] })
}

// uidSet formats ascending UIDs compactly: 1:3,7,9:10.
func uidSet(uids []mail.UID) string {
	var set imapwire.SeqSet
	for i := 0; i < len(uids); {
		j := i
		for j+1 < len(uids) && uids[j+1] == uids[j]+1 {
			j++
		}
		set.Ranges = append(set.Ranges, imapwire.SeqRange{Start: uint32(uids[i]), Stop: uint32(uids[j])})
		i = j + 1
	}
	return set.String()
}

// enableCondStore turns CONDSTORE on for a command that implies it; in a
// selected mailbox the client is told the HIGHESTMODSEQ at once (RFC 7162
// 3.1).
func (c *conn) enableCondStore() {
	if c.enabled.condstore {
		return
	}
	c.enabled.condstore = true
	if c.sel != nil {
		c.w.Status("", "OK", "HIGHESTMODSEQ "+strconv.FormatUint(uint64(c.sel.modseq), 10), "CONDSTORE enabled")
	}
}

// flagList is the FLAGS list: the system flags and the known keywords.
func (s *selected) flagList() mail.Flags {
	fs := slices.Clone(systemFlags)
	var kw []string
	for k := range s.keywords {
		kw = append(kw, k)
	}
	slices.Sort(kw)
	return append(fs, kw...)
}

// noteKeywords announces keywords the client has not seen in FLAGS yet,
// before a response uses them (RFC 9051 7.3.5: FLAGS when the set of
// flags changes).
func (c *conn) noteKeywords(fs mail.Flags) {
	s := c.sel
	if s == nil {
		return
	}
	added := false
	for _, f := range fs {
		if !strings.HasPrefix(f, `\`) && !s.keywords[f] {
			s.keywords[f] = true
			added = true
		}
	}
	if !added {
		return
	}
	fl := s.flagList()
	c.w.Raw("* FLAGS ")
	c.w.Flags(fl)
	c.w.Raw("\r\n")
	if !s.readOnly {
		c.w.Raw("* OK [PERMANENTFLAGS ")
		c.w.Flags(append(fl, `\*`))
		c.w.Raw("] Flags permitted\r\n")
	}
}
