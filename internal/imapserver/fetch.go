package imapserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/store"
)

// cmdFetch: FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9) with CHANGEDSINCE
// and VANISHED (RFC 7162 3.1.4, 3.2.6), BINARY (RFC 3516), SAVEDATE (RFC
// 8514), EMAILID/THREADID (RFC 8474) and PREVIEW (RFC 8970).
func (c *conn) cmdFetch(a *imapwire.FetchArgs, byUID bool) result {
	s := c.sel
	uids := s.resolve(a.Set, byUID)
	if !byUID && !a.Set.Saved && len(uids) == 0 && s.exists() > 0 {
		return bad("No messages in that sequence set (the mailbox has " + strconv.Itoa(int(s.exists())) + ")")
	}
	atts := a.Atts
	markSeen := false
	for _, at := range atts {
		switch at.Name {
		case "MODSEQ":
			c.enableCondStore()
		case "BODY", "BINARY":
			markSeen = markSeen || (at.Section != nil && !at.Peek)
		case "RFC822", "RFC822.TEXT":
			markSeen = true
		case "PREVIEW":
			if !previewSupported {
				return bad("PREVIEW is not supported")
			}
		}
	}
	if a.ChangedSince > 0 {
		c.enableCondStore()
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	if a.Vanished {
		if err := c.vanishedEarlier(ctx, a.Set, mail.ModSeq(a.ChangedSince)); err != nil {
			return c.storeError("fetch", err, "")
		}
	}
	// The rows are read, marked \Seen and written a chunk at a time, so a
	// FETCH 1:* of a large mailbox holds one chunk of rows, and its first
	// response goes out before the last row is read (issue 16; mox and
	// go-imap v2 write each message's response as it is read, too).
	light := lightFetch(atts)
	lost := false
	for off := 0; off < len(uids); off += fetchChunk {
		rows, chunkLost, err := c.rows(ctx, uids[off:min(off+fetchChunk, len(uids))], light)
		if err != nil {
			return c.storeError("fetch", err, "")
		}
		lost = lost || chunkLost
		if markSeen && !s.readOnly {
			if err := c.markSeen(ctx, rows); err != nil {
				return c.storeError("fetch", err, "")
			}
		}
		if res, failed := c.fetchRows(ctx, rows, a, byUID, &lost); failed {
			return res
		}
	}
	if lost {
		// RFC 2180 4.1.1, RFC 5530: what exists was returned.
		return okCode("EXPUNGEISSUED", "Some messages were expunged by another session and are no longer stored")
	}
	return ok("FETCH completed")
}

// fetchRows writes the FETCH responses of rows; a message whose body is
// gone sets *lost. failed reports that the command ends with res.
func (c *conn) fetchRows(ctx context.Context, rows []fetchRow, a *imapwire.FetchArgs, byUID bool, lost *bool) (res result, failed bool) {
	for _, r := range rows {
		if a.ChangedSince > 0 && uint64(r.row.ModSeq) <= a.ChangedSince {
			continue
		}
		if err := c.fetchOne(ctx, r, a.Atts, byUID || a.Vanished, a.ChangedSince > 0); err != nil {
			var cte *cteError
			switch {
			case errors.Is(err, errGoneBody):
				*lost = true
				continue
			case errors.Is(err, errStreamBroken):
				return result{close: true}, true
			case errors.As(err, &cte):
				return no("UNKNOWN-CTE", "Cannot decode the part's content transfer encoding"), true
			}
			return c.storeError("fetch", err, ""), true
		}
	}
	return result{}, false
}

// fetchChunk is how many UIDs FETCH reads from the store at a time.
const fetchChunk = 1000

// lightFetch reports whether atts need only what the store's light
// per-message state holds (UID, MODSEQ, flags): then FETCH reads States,
// not whole rows with their metadata.
func lightFetch(atts []imapwire.FetchAtt) bool {
	for _, at := range atts {
		switch at.Name {
		case "UID", "FLAGS", "MODSEQ":
		default:
			return false
		}
	}
	return true
}

// errStreamBroken means a literal could not be written whole: the
// connection is out of step and must close.
var errStreamBroken = errors.New("imap: response stream broken")

// fetchRow is a message being fetched: its row plus what was derived from
// it during this command.
type fetchRow struct {
	row     store.MessageRow
	seq     uint32 // its sequence number, 0 when not known yet
	seenNow bool   // \Seen set by this FETCH: FLAGS goes out
	gone    bool   // expunged by another session, not yet announced
}

// rows reads the rows of uids (ascending, in the view) in UID ranges. A
// message of the view that another session expunged keeps its sequence
// number until the expunge is announced, and FETCH still returns its data
// (RFC 2180 4.1.1): its row comes from the store's expunged rows. Its
// flags are those it had when expunged, which held from its last flag
// change up to the MODSEQ before its expunge: that is the MODSEQ reported,
// as a live row reports its last change. (Not the expunge's own: a client
// resuming with QRESYNC from it would never be told of the expunge.) lost
// reports UIDs whose row is not found even there. light rows carry no metadata (lightFetch).
func (c *conn) rows(ctx context.Context, uids []mail.UID, light bool) (out []fetchRow, lost bool, err error) {
	live, missing, err := c.liveRows(ctx, uids, light)
	if err != nil || len(missing) == 0 {
		return live, false, err
	}
	var gone []fetchRow
	err = c.srv.opts.Store.Expunged(ctx, c.sel.mb, missing, func(r store.MessageRow) error {
		r.ModSeq--
		gone = append(gone, fetchRow{row: r, gone: true})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	out = make([]fetchRow, 0, len(live)+len(gone))
	i, j := 0, 0
	for i < len(live) || j < len(gone) {
		if j == len(gone) || i < len(live) && live[i].row.UID < gone[j].row.UID {
			out, i = append(out, live[i]), i+1
		} else {
			out, j = append(out, gone[j]), j+1
		}
	}
	return out, len(gone) < len(missing), nil
}

// liveRows reads the live rows of uids and returns the UIDs without one;
// light rows are read from the store's States and hold no metadata.
func (c *conn) liveRows(ctx context.Context, uids []mail.UID, light bool) (out []fetchRow, missing []mail.UID, err error) {
	s := c.sel
	for i := 0; i < len(uids); {
		// A range of consecutive view positions is one store read: one
		// search of the view a range, not two a UID.
		seq := s.seq(uids[i])
		j := i
		for p := int(seq); seq > 0 && j+1 < len(uids) && p < len(s.uids) && s.uids[p] == uids[j+1]; p++ {
			j++
		}
		want := uids[i : j+1]
		k := 0
		err := c.readRows(ctx, want[0], want[len(want)-1], light, func(r store.MessageRow) error {
			for k < len(want) && want[k] < r.UID {
				missing = append(missing, want[k])
				k++
			}
			if k < len(want) && want[k] == r.UID {
				fr := fetchRow{row: r}
				if seq > 0 {
					fr.seq = seq + uint32(k)
				}
				out = append(out, fr)
				k++
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		missing = append(missing, want[k:]...)
		i = j + 1
	}
	return out, missing, nil
}

// markSeen sets \Seen on the rows that lack it (RFC 9051 6.4.5: BODY[]
// without .PEEK) and updates them in place.
func (c *conn) markSeen(ctx context.Context, rows []fetchRow) error {
	var need []mail.UID
	idx := map[mail.UID]int{}
	for i, r := range rows {
		if !r.gone && !r.row.Flags.Has(`\Seen`) {
			need = append(need, r.row.UID)
			idx[r.row.UID] = i
		}
	}
	if len(need) == 0 {
		return nil
	}
	res, err := c.srv.opts.Store.StoreFlags(ctx, c.sel.mb, need, store.FlagsAdd, mail.NewFlags(`\Seen`), 0)
	if err != nil {
		return err
	}
	for _, r := range res.Rows {
		if i, ok := idx[r.UID]; ok {
			rows[i].row.Flags, rows[i].row.ModSeq, rows[i].seenNow = r.Flags, r.ModSeq, true
			c.sel.own[r.ModSeq] = append(c.sel.own[r.ModSeq], r.UID)
		}
	}
	return nil
}

// vanishedEarlier reports expunges after since within set (UIDs), for UID
// FETCH ... (CHANGEDSINCE m VANISHED) (RFC 7162 3.2.6).
func (c *conn) vanishedEarlier(ctx context.Context, set imapwire.SeqSet, since mail.ModSeq) error {
	s := c.sel
	star := uint32(s.uidNext - 1)
	var uids []mail.UID
	err := c.srv.opts.Store.Changes(ctx, s.mb, since, func(ch store.Change) error {
		if ch.Kind == store.ChangeExpunge && ch.UID < s.uidNext && s.seq(ch.UID) == 0 && set.Contains(uint32(ch.UID), star) {
			uids = append(uids, ch.UID)
		}
		return nil
	})
	if errors.Is(err, store.ErrLogTrimmed) {
		// Past the log's history: every UID of the set below UIDNEXT not
		// in the view (resync.go; RFC 7162 3.2.6).
		if gone := absentUIDs(&set, 0, s.uidNext-1, s.uids); gone != "" {
			c.w.Raw("* VANISHED (EARLIER) " + gone + "\r\n")
		}
		return nil
	}
	if err != nil || len(uids) == 0 {
		return err
	}
	uids = sortedUnique(uids)
	c.w.Raw("* VANISHED (EARLIER) " + uidSet(uids) + "\r\n")
	return nil
}

// errGoneBody: the body of a message expunged elsewhere is no longer
// stored; its FETCH response is left out.
var errGoneBody = errors.New("imap: body of an expunged message is gone")

// fetchOne writes one FETCH response.
func (c *conn) fetchOne(ctx context.Context, fr fetchRow, atts []imapwire.FetchAtt, withUID, withModSeq bool) error {
	r := fr.row
	s := c.sel
	m := &fetchMsg{c: c, ctx: ctx, row: r}
	defer m.close()
	if fr.gone && m.needsBody(atts) {
		// Open the body before the response starts, so that a body no
		// longer stored leaves no half-written response.
		if _, err := m.body(); errors.Is(err, mail.ErrNoBlob) {
			return errGoneBody
		} else if err != nil {
			return err
		}
	}
	c.noteKeywords(r.Flags)
	seq := fr.seq
	if seq == 0 {
		seq = s.seq(r.UID)
	}
	c.w.Raw("* ")
	c.w.Number(uint64(seq))
	c.w.Raw(" FETCH (")
	first := true
	item := func(name string) {
		if !first {
			c.w.SP()
		}
		first = false
		c.w.Raw(name)
	}
	hasUID, hasFlags, hasModSeq := false, false, false
	for _, at := range atts {
		switch at.Name {
		case "UID":
			hasUID = true
		case "FLAGS":
			hasFlags = true
		case "MODSEQ":
			hasModSeq = true
		}
	}
	if withUID && !hasUID {
		item("UID ")
		c.w.Number(uint64(r.UID))
	}
	for _, at := range atts {
		if err := c.fetchAtt(m, at, item); err != nil {
			if !errors.Is(err, errStreamBroken) {
				c.w.Raw(")\r\n") // keep the response well formed
			}
			return err
		}
	}
	if fr.seenNow && !hasFlags {
		item("FLAGS ")
		c.writeFlags(r.Flags, s.recent[r.UID])
		hasFlags = true
	}
	if !hasModSeq && (withModSeq || hasFlags && c.enabled.condstore) {
		item("MODSEQ (" + strconv.FormatUint(uint64(r.ModSeq), 10) + ")")
	}
	c.w.Raw(")\r\n")
	return nil
}

// needsBody reports whether some of atts read the message body: the
// sections, and for a message with NUL bytes also the structure and size
// of its served form (nul.go).
func (m *fetchMsg) needsBody(atts []imapwire.FetchAtt) bool {
	for _, at := range atts {
		switch at.Name {
		case "BODY", "BODYSTRUCTURE", "RFC822.SIZE":
			if at.Section != nil || m.structure().HasNUL() {
				return true
			}
		case "RFC822", "RFC822.HEADER", "RFC822.TEXT", "BINARY", "BINARY.SIZE", "PREVIEW":
			return true
		}
	}
	return false
}

// fetchMsg opens a message's structure and body lazily, once. The stored
// form (structure, body) serves ENVELOPE, BINARY and PREVIEW; the served
// form (served) is what BODY, BODYSTRUCTURE, RFC822 and RFC822.SIZE show,
// which differs only for a message with NUL bytes (nul.go).
type fetchMsg struct {
	c    *conn
	ctx  context.Context
	row  store.MessageRow
	part *message.Part
	blob store.Blob
	view *servedView
}

// servedView is a message as BODY[] serves it. body is nil when the
// served form is the stored one (servedBody opens it then).
type servedView struct {
	part *message.Part
	body io.ReaderAt
	size int64
}

func (m *fetchMsg) structure() *message.Part {
	if m.part == nil {
		p, err := message.Unmarshal(m.row.Meta.Structure)
		if err != nil {
			// A row without a usable structure is served as one text
			// part; the bytes are still all there (DESIGN.md 3.5).
			m.c.log.Warn("imap: unreadable message structure", "uid", m.row.UID, "err", err)
			p = &message.Part{Type: "text", Subtype: "plain", End: m.row.Meta.Size, Encoding: "7BIT", Envelope: &message.Envelope{}}
		}
		m.part = p
	}
	return m.part
}

func (m *fetchMsg) body() (store.Blob, error) {
	if m.blob == nil {
		b, err := m.c.srv.opts.Store.OpenBody(m.ctx, m.row.Meta)
		if err != nil {
			return nil, err
		}
		m.blob = b
	}
	return m.blob, nil
}

// served returns the message as BODY[] serves it: the stored form, or
// for a message with NUL bytes its conversion (nul.go).
func (m *fetchMsg) served() (*servedView, error) {
	if m.view != nil {
		return m.view, nil
	}
	p := m.structure()
	if !p.HasNUL() {
		m.view = &servedView{part: p, size: m.row.Meta.Size}
		return m.view, nil
	}
	b, err := m.body()
	if err != nil {
		return nil, err
	}
	conv, err := convertNUL(b, m.row.Meta.Size, p)
	if err != nil {
		return nil, err
	}
	cp := message.ScanBytes(conv, message.Limits{})
	m.view = &servedView{part: cp, body: bytes.NewReader(conv), size: int64(len(conv))}
	return m.view, nil
}

// servedBody returns the bytes of the served message.
func (m *fetchMsg) servedBody() (io.ReaderAt, error) {
	v, err := m.served()
	if err != nil || v.body != nil {
		return v.body, err
	}
	return m.body()
}

func (m *fetchMsg) close() {
	if m.blob != nil {
		m.blob.Close()
	}
}

// literal writes n bytes of the served message from off, as a literal.
func (m *fetchMsg) literal(off, n int64) error {
	if n <= 0 {
		m.c.w.Raw("{0}\r\n") // as Dovecot writes it; imaptest expects a literal
		return nil
	}
	b, err := m.servedBody()
	if err != nil {
		return err
	}
	if err := m.c.w.Literal(n, io.NewSectionReader(b, off, n), false); err != nil {
		m.c.log.Error("imap: message body short", "uid", m.row.UID, "err", err)
		return errStreamBroken
	}
	return nil
}

func (c *conn) fetchAtt(m *fetchMsg, at imapwire.FetchAtt, item func(string)) error {
	r := m.row
	switch at.Name {
	case "UID":
		item("UID ")
		c.w.Number(uint64(r.UID))
	case "FLAGS":
		item("FLAGS ")
		c.writeFlags(r.Flags, c.sel.recent[r.UID])
	case "INTERNALDATE":
		item("INTERNALDATE " + imapwire.FormatDateTime(r.Meta.InternalDate))
	case "RFC822.SIZE":
		v, err := m.served()
		if err != nil {
			return err
		}
		item("RFC822.SIZE " + strconv.FormatInt(v.size, 10))
	case "MODSEQ":
		item("MODSEQ (")
		c.w.Number(uint64(r.ModSeq))
		c.w.Raw(")")
	case "SAVEDATE":
		if r.Meta.SaveDate.IsZero() {
			item("SAVEDATE NIL")
		} else {
			item("SAVEDATE " + imapwire.FormatDateTime(r.Meta.SaveDate))
		}
	case "EMAILID":
		item("EMAILID (" + r.Meta.EmailID + ")")
	case "THREADID":
		item("THREADID NIL") // RFC 8474 5.2: no thread IDs kept
	case "ENVELOPE":
		item("ENVELOPE ")
		c.writeEnvelope(m)
	case "BODYSTRUCTURE", "BODY":
		if at.Section != nil {
			return c.fetchSection(m, at, item)
		}
		v, err := m.served()
		if err != nil {
			return err
		}
		item(at.Name + " ")
		c.w.BodyStructure(v.part, at.Name == "BODYSTRUCTURE")
	case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
		v, err := m.served()
		if err != nil {
			return err
		}
		p := v.part
		item(at.Name + " ")
		switch at.Name {
		case "RFC822":
			return m.literal(0, v.size)
		case "RFC822.HEADER":
			return m.literal(p.HeaderStart, p.BodyStart-p.HeaderStart)
		}
		return m.literal(p.BodyStart, min(p.End, v.size)-p.BodyStart)
	case "BINARY", "BINARY.SIZE":
		return c.fetchBinary(m, at, item)
	case "PREVIEW":
		return c.fetchPreview(m, item)
	}
	return nil
}

// envelope returns the message's envelope: from its structure when
// that is decoded already, else decoding only the envelope (the FETCH
// of a mailbox's envelopes need not decode every part of every message).
func (m *fetchMsg) envelope() *message.Envelope {
	if m.part == nil {
		if e, err := message.UnmarshalEnvelope(m.row.Meta.Structure); err == nil {
			if e == nil {
				return &message.Envelope{}
			}
			return e
		}
	}
	return envelopeOf(m.structure())
}

func envelopeOf(p *message.Part) *message.Envelope {
	if p.Envelope == nil {
		return &message.Envelope{}
	}
	return p.Envelope
}
