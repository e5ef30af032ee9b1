package imapserver

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/quiremail/quire/internal/imapserver/imapsearch"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/store"
)

// searchCapabilities are SEARCH, SORT and THREAD's extensions (RFC 4731,
// 5182, 5256, 5957).
var searchCapabilities = []string{"ESEARCH", "SEARCHRES", "SORT", "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=ORDEREDSUBJECT", "PREVIEW"}

// previewSupported turns on FETCH PREVIEW (RFC 8970).
const previewSupported = true

// charsetOK: SEARCH strings are matched as UTF-8; US-ASCII is a subset.
func charsetOK(cs string) bool { return cs == "" || cs == "UTF-8" || cs == "US-ASCII" }

// search runs a program over the view and returns the matching messages
// in sequence order. With rows set their rows and structures are loaded
// (SORT, THREAD and MODSEQ need them); otherwise a program the full-text
// index answers alone gives hits without candidates. If the index
// fails, every message is read, which is slower but gives the same
// answer.
func (c *conn) search(ctx context.Context, key *imapwire.SearchKey, rows bool) ([]hit, error) {
	s := c.sel
	sc := imapsearch.Context{MaxSeq: s.exists(), MaxUID: s.maxUID()}
	if len(s.saved) > 0 {
		saved := make(map[mail.UID]bool, len(s.saved))
		for _, u := range s.saved {
			saved[u] = true
		}
		sc.Saved = func(_ uint32, uid mail.UID) bool { return saved[uid] }
	}
	if conv := c.srv.opts.Attachments; conv != nil {
		sc.Attachments = func(raw []byte, root *message.Part) string { return conv(ctx, raw, root) }
	}
	sc.RuledOut = c.ruledOut
	ans, err := c.textAnswers(ctx, key, rows)
	if err != nil {
		c.srv.log.Warn("imap: the search index failed; reading every message", "mailbox", s.mb.ID, "err", err)
		ans = nil
	}
	var out []hit
	from := mail.UID(1) // rows are read from here on
	if ans != nil {
		sc.Known = ans.known
		if set, comp, ok := ans.program(key); ok && !rows {
			out = c.pureHits(set, comp, ans.mark)
			from = ans.mark + 1
		}
	}
	// A program on flags alone reads the light states, and keeps no
	// candidate when the caller needs no rows: UID SEARCH UNSEEN of a
	// large mailbox reads no metadata and holds a hit per match only.
	light := !rows && imapsearch.StateOnly(key)
	var evalErr error
	// A program that reads message text costs about 100 µs a message
	// (read, decode, fold, compare): its candidates are matched in
	// batches on every core. Others are matched as they are read.
	batch := 1
	if imapsearch.NeedsBody(key) {
		batch = 64
	}
	var pending []*candidate
	found := func(x *candidate) {
		if light {
			out = append(out, hit{seq: x.seq, uid: x.UID()})
		} else {
			out = append(out, hit{seq: x.seq, uid: x.UID(), x: x})
		}
	}
	match := func() error {
		oks, err := matchAll(key, pending, sc)
		for i, x := range pending {
			if oks[i] {
				found(x)
			}
		}
		pending = pending[:0]
		if err != nil {
			evalErr = err
		}
		return err
	}
	reuse := &candidate{m: &fetchMsg{c: c, ctx: ctx}}
	visit := func(r store.MessageRow) error {
		seq := s.seq(r.UID)
		if seq == 0 || ans != nil && ans.narrowed && r.UID <= ans.mark && !ans.cands.Contains(uint32(r.UID)) {
			return nil
		}
		var x *candidate
		if light {
			// No hit keeps its candidate: one serves every row (a
			// UID SEARCH UNSEEN of 100,000 messages made 200,000
			// objects).
			reuse.m.row, reuse.seq, reuse.recent = r, seq, s.recent[r.UID]
			x = reuse
		} else {
			x = &candidate{seq: seq, recent: s.recent[r.UID], m: &fetchMsg{c: c, ctx: ctx, row: r}}
		}
		if batch > 1 {
			if pending = append(pending, x); len(pending) < batch {
				return nil
			}
			return match()
		}
		ok, err := imapsearch.Match(key, x, sc)
		x.m.close()
		x.m.blob = nil
		if err != nil {
			evalErr = err
			return err
		}
		if ok {
			found(x)
		}
		return nil
	}
	switch {
	case from > s.maxUID():
	case ans != nil && ans.narrowed && ans.cands.GetCardinality()*4 < uint64(len(s.uids)):
		err = c.visitRuns(ctx, from, func(u mail.UID) bool { return u > ans.mark || ans.cands.Contains(uint32(u)) }, visit)
	default:
		err = c.readRows(ctx, from, s.maxUID(), light, visit)
	}
	if err == nil && len(pending) > 0 {
		err = match()
	}
	if evalErr != nil {
		return nil, evalErr
	}
	return out, err
}

// matchAll matches each candidate against key, on up to GOMAXPROCS
// goroutines when there are several, and closes their bodies. It stops
// at the first error. A panic in a match is raised again here, on the
// command's goroutine, whose recovery answers NO [SERVERBUG].
func matchAll(key *imapwire.SearchKey, xs []*candidate, sc imapsearch.Context) ([]bool, error) {
	oks := make([]bool, len(xs))
	errs := make([]error, len(xs))
	one := func(i int) {
		x := xs[i]
		oks[i], errs[i] = imapsearch.Match(key, x, sc)
		x.m.close()
		x.m.blob = nil
	}
	var (
		wg     sync.WaitGroup
		next   atomic.Int64
		mu     sync.Mutex
		caught any
	)
	for range min(runtime.GOMAXPROCS(0), len(xs)) {
		wg.Go(func() {
			defer func() {
				if x := recover(); x != nil {
					mu.Lock()
					caught = fmt.Sprintf("%v\n%s", x, debug.Stack())
					mu.Unlock()
				}
			}()
			for i := int(next.Add(1)) - 1; i < len(xs); i = int(next.Add(1)) - 1 {
				one(i)
			}
		})
	}
	wg.Wait()
	if caught != nil {
		panic(caught)
	}
	return oks, errors.Join(errs...)
}

// hit is a message a search found: its candidate, with its row, when
// the search read it, nil when the index alone answered.
type hit struct {
	seq uint32
	uid mail.UID
	x   *candidate
}

// pureHits are the view's messages up to mark whose membership in set
// is not comp: they may be most of a large mailbox, so no row or
// candidate is made for them.
func (c *conn) pureHits(set *roaring.Bitmap, comp bool, mark mail.UID) []hit {
	s := c.sel
	n := int(set.GetCardinality())
	if comp {
		n = len(s.uids) - n
	}
	out := make([]hit, 0, max(n, 0))
	// One walk of the view and the set together, both in UID order: a
	// lookup per UID cost a third of a large search.
	it := set.Iterator()
	for i, u := range s.uids {
		if u > mark {
			break
		}
		for it.HasNext() && it.PeekNext() < uint32(u) {
			it.Next()
		}
		in := it.HasNext() && it.PeekNext() == uint32(u)
		if in != comp && (len(s.gone) == 0 || !s.gone[u]) {
			out = append(out, hit{seq: uint32(i + 1), uid: u})
		}
	}
	return out
}

// visitRuns reads the rows of the view's UIDs from on that want accepts:
// one range read per run of accepted UIDs adjacent in the view.
func (c *conn) visitRuns(ctx context.Context, from mail.UID, want func(mail.UID) bool, fn func(store.MessageRow) error) error {
	s := c.sel
	i, _ := slices.BinarySearch(s.uids, from)
	for ; i < len(s.uids); i++ {
		if !want(s.uids[i]) {
			continue
		}
		j := i
		for j+1 < len(s.uids) && want(s.uids[j+1]) {
			j++
		}
		if err := c.srv.opts.Store.Messages(ctx, s.mb, s.uids[i], s.uids[j], fn); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// cmdSearch: SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH (RFC
// 4731, RFC 9051 7.3.4), SEARCHRES (RFC 5182) and MODSEQ (RFC 7162 3.1.5).
func (c *conn) cmdSearch(a *imapwire.SearchArgs, byUID bool) result {
	if !charsetOK(a.Charset) {
		return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset "+a.Charset)
	}
	if imapsearch.HasModSeq(a.Key) {
		c.enableCondStore()
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	found, err := c.search(ctx, a.Key, imapsearch.HasModSeq(a.Key))
	ret := a.Return
	if ret == nil && c.enabled.rev2 {
		ret = []string{"ALL"} // IMAP4rev2 answers ESEARCH (RFC 9051 6.4.4)
	}
	if err != nil {
		if slices.Contains(ret, "SAVE") {
			c.sel.saved = nil // RFC 5182 2.1: a failed search empties $
		}
		return c.storeError("search", err, "")
	}
	ids := make([]uint32, len(found))
	var top mail.ModSeq
	for i, m := range found {
		ids[i] = m.seq
		if byUID {
			ids[i] = uint32(m.uid)
		}
		if m.x != nil { // MODSEQ reads rows (search's rows)
			top = max(top, m.x.row().ModSeq)
		}
	}
	withModSeq := imapsearch.HasModSeq(a.Key) && len(found) > 0
	if ret == nil {
		line := []byte("* SEARCH")
		for _, n := range ids {
			line = strconv.AppendUint(append(line, ' '), uint64(n), 10)
		}
		c.w.Raw(string(line))
		if withModSeq {
			c.w.Raw(" (MODSEQ " + strconv.FormatUint(uint64(top), 10) + ")")
		}
		c.w.Raw("\r\n")
		return ok("SEARCH completed")
	}
	opt := func(o string) bool { return slices.Contains(ret, o) }
	all := len(ret) == 0 || opt("ALL") || (len(ret) == 1 && opt("SAVE"))
	if opt("SAVE") {
		// RFC 5182 2.4: with MIN and/or MAX alone, only those are saved.
		saved := found
		if !opt("ALL") && !opt("COUNT") && (opt("MIN") || opt("MAX")) && len(found) > 0 {
			saved = nil
			if opt("MIN") {
				saved = append(saved, found[0])
			}
			if opt("MAX") && len(found) > 1 {
				saved = append(saved, found[len(found)-1])
			}
		}
		c.sel.saved = c.sel.saved[:0]
		for _, m := range saved {
			c.sel.saved = append(c.sel.saved, m.uid)
		}
		if len(ret) == 1 {
			return ok("SEARCH completed, result saved")
		}
	}
	if withModSeq && !opt("ALL") && !opt("COUNT") && len(ret) > 0 {
		// RFC 7162 3.1.5: the highest mod-sequence of what is returned.
		top = 0
		if opt("MIN") {
			top = found[0].x.row().ModSeq
		}
		if opt("MAX") {
			top = max(top, found[len(found)-1].x.row().ModSeq)
		}
	}
	c.writeESearch(ids, byUID, opt("MIN"), opt("MAX"), opt("COUNT"), all && (len(ret) == 0 || opt("ALL")), withModSeq, top)
	return ok("SEARCH completed")
}

// writeESearch writes "* ESEARCH" (RFC 4731 3.1): MIN, MAX and ALL only
// when something matched.
func (c *conn) writeESearch(ids []uint32, byUID, minO, maxO, count, all, modseq bool, top mail.ModSeq) {
	var b strings.Builder
	b.WriteString(`* ESEARCH (TAG "` + c.tag + `")`)
	if byUID {
		b.WriteString(" UID")
	}
	if len(ids) > 0 {
		if minO {
			b.WriteString(" MIN " + strconv.FormatUint(uint64(ids[0]), 10))
		}
		if maxO {
			b.WriteString(" MAX " + strconv.FormatUint(uint64(ids[len(ids)-1]), 10))
		}
	}
	if count {
		b.WriteString(" COUNT " + strconv.Itoa(len(ids)))
	}
	if all && len(ids) > 0 {
		us := make([]mail.UID, len(ids))
		for i, n := range ids {
			us[i] = mail.UID(n)
		}
		b.WriteString(" ALL " + uidSet(sortedUnique(us)))
	}
	if modseq {
		b.WriteString(" MODSEQ " + strconv.FormatUint(uint64(top), 10))
	}
	c.w.Raw(b.String() + "\r\n")
}

// cmdSort: SORT and UID SORT (RFC 5256 3, DISPLAYFROM/DISPLAYTO RFC 5957).
func (c *conn) cmdSort(a *imapwire.SortArgs, byUID bool) result {
	if a.Return != nil {
		return bad("SORT RETURN (ESORT) is not supported")
	}
	msgs, res, found := c.searchAll(a.Charset, a.Key, "sort")
	if !found {
		return res
	}
	var b strings.Builder
	b.WriteString("* SORT")
	for _, m := range imapsearch.Sort(msgs, a.Criteria) {
		b.WriteString(" " + strconv.FormatUint(uint64(resultID(m, byUID)), 10))
	}
	c.w.Raw(b.String() + "\r\n")
	return ok("SORT completed")
}

func resultID(m imapsearch.Message, byUID bool) uint32 {
	if byUID {
		return uint32(m.UID())
	}
	return m.Seq()
}

// cmdThread: THREAD and UID THREAD (RFC 5256 3), ORDEREDSUBJECT and
// REFERENCES.
func (c *conn) cmdThread(a *imapwire.ThreadArgs, byUID bool) result {
	if a.Algorithm != "REFERENCES" && a.Algorithm != "ORDEREDSUBJECT" {
		return bad("Unknown thread algorithm " + a.Algorithm + "; REFERENCES and ORDEREDSUBJECT are supported")
	}
	msgs, res, found := c.searchAll(a.Charset, a.Key, "thread")
	if !found {
		return res
	}
	var threads []*imapsearch.Thread
	if a.Algorithm == "ORDEREDSUBJECT" {
		threads = imapsearch.ThreadOrderedSubject(msgs)
	} else {
		threads = imapsearch.ThreadReferences(msgs)
	}
	out := imapsearch.FormatThreads(threads, func(m imapsearch.Message) uint32 { return resultID(m, byUID) })
	c.w.Raw(strings.TrimRight("* THREAD "+out, " ") + "\r\n")
	return ok("THREAD completed")
}

// searchAll runs the search program of SORT or THREAD.
func (c *conn) searchAll(charset string, key *imapwire.SearchKey, op string) ([]imapsearch.Message, result, bool) {
	if !charsetOK(charset) {
		return nil, no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset "+charset), false
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	found, err := c.search(ctx, key, true)
	if err != nil {
		return nil, c.storeError(op, err, ""), false
	}
	msgs := make([]imapsearch.Message, len(found))
	for i, m := range found {
		msgs[i] = m.x
	}
	return msgs, result{}, true
}
