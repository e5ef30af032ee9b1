package imapserver

import (
	"context"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
)

// textAnswers are the full-text index's answers for one search program
// (DESIGN.md section 4). Where the index is exact (search.Exact: one word
// of up to search.MaxTerm letters), a text key's answer for the messages
// it holds (UIDs up to mark) is membership in its set, and no message is
// read for it; other answers narrow the candidates, which are read.
// Messages above the mark are not indexed yet: they are read.
//
// Sets of UIDs are roaring bitmaps: a common word is in most of a
// mailbox, and intersecting or testing 80,000 UIDs in maps cost more
// than the index query.
type textAnswers struct {
	mark  mail.UID
	exact map[*imapwire.SearchKey]*roaring.Bitmap // text keys the index answered
	// cands, when narrowed, holds every indexed UID that may satisfy
	// the whole program; the others cannot.
	cands    *roaring.Bitmap
	narrowed bool
}

// searchFields maps SEARCH's text keys to the index fields they read:
// BODY reads the text parts and the attachments, TEXT the header too.
var searchFields = map[string][]string{
	"SUBJECT": {search.FieldSubject}, "FROM": {search.FieldFrom}, "TO": {search.FieldTo},
	"CC": {search.FieldCc}, "BCC": {search.FieldBcc},
	"BODY": {search.FieldBody, search.FieldAttachments},
	"TEXT": {search.FieldHeaders, search.FieldBody, search.FieldAttachments},
}

// textAnswers asks the index about the program's text keys; nil when
// there is no index. The mark is read before the queries, so whatever it
// covers is visible to them.
func (c *conn) textAnswers(ctx context.Context, key *imapwire.SearchKey) (*textAnswers, error) {
	idx := c.srv.opts.Search
	if idx == nil || !hasTextKey(key) {
		return nil, nil
	}
	s := c.sel
	mark, err := idx.Indexed(ctx, s.mb.UserID, s.mb.ID)
	if err != nil {
		return nil, err
	}
	a := &textAnswers{mark: mail.UID(mark), exact: map[*imapwire.SearchKey]*roaring.Bitmap{}}
	a.cands, a.narrowed, err = a.narrow(ctx, idx, s.mb.UserID, s.mb.ID, key)
	return a, err
}

// narrow returns the indexed UIDs that may satisfy k, recording the
// exact answer of each text key on the way: AND intersects what its keys
// narrow, OR unites (both sides must narrow), and NOT and the other keys
// do not narrow.
// The sets it returns are its own to change; the exact ones it records
// are not changed afterwards.
func (a *textAnswers) narrow(ctx context.Context, idx search.Index, user, mb string, k *imapwire.SearchKey) (*roaring.Bitmap, bool, error) {
	query := func(fields []string, text string) (*roaring.Bitmap, bool, error) {
		uids, ok, err := idx.Search(ctx, user, mb, text, fields...)
		if err != nil || !ok {
			return nil, false, err
		}
		set := roaring.New()
		set.AddMany(uids)
		return set, true, nil
	}
	switch k.Name {
	case "AND":
		var acc *roaring.Bitmap
		narrowed := false
		for _, sub := range k.Sub {
			set, ok, err := a.narrow(ctx, idx, user, mb, sub)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				continue
			}
			if !narrowed {
				acc, narrowed = set.Clone(), true
				continue
			}
			acc.And(set)
		}
		return acc, narrowed, nil
	case "OR":
		l, lok, err := a.narrow(ctx, idx, user, mb, k.Sub[0])
		if err != nil {
			return nil, false, err
		}
		r, rok, err := a.narrow(ctx, idx, user, mb, k.Sub[1])
		if err != nil || !lok || !rok {
			return nil, false, err
		}
		return roaring.Or(l, r), true, nil
	case "NOT":
		// Not narrowing, but its keys' answers serve the evaluator.
		_, _, err := a.narrow(ctx, idx, user, mb, k.Sub[0])
		return nil, false, err
	case "HEADER":
		// The header text holds "Name: value" lines: the value narrows,
		// but only the evaluator can tell which field holds it.
		if k.Value == "" {
			return nil, false, nil
		}
		return query([]string{search.FieldHeaders}, k.Value)
	}
	fields, ok := searchFields[k.Name]
	if !ok {
		return nil, false, nil
	}
	set, ok, err := query(fields, k.Value)
	if ok && search.Exact(k.Value) {
		a.exact[k] = set
		return set.Clone(), true, nil
	}
	return set, ok, err
}

// hasTextKey reports whether the program has a key the index answers:
// a SEARCH on flags alone costs no index round trip.
func hasTextKey(k *imapwire.SearchKey) bool {
	if _, ok := searchFields[k.Name]; ok || k.Name == "HEADER" {
		return true
	}
	for _, s := range k.Sub {
		if hasTextKey(s) {
			return true
		}
	}
	return false
}

// known is imapsearch.Context.Known: the index's answer for a text key
// and an indexed message.
func (a *textAnswers) known(k *imapwire.SearchKey, uid mail.UID) (bool, bool) {
	if uid > a.mark {
		return false, false
	}
	set, ok := a.exact[k]
	if !ok {
		return false, false
	}
	return set.Contains(uint32(uid)), true
}

// pure answers a program made only of text keys the index answered
// (under AND, OR and NOT, and ALL), for the indexed messages, without
// reading any: the set, or its complement when comp is set. ok is false
// for any other program.
func (a *textAnswers) pure(k *imapwire.SearchKey) (set *roaring.Bitmap, comp, ok bool) {
	switch k.Name {
	case "ALL":
		return roaring.New(), true, true
	case "NOT":
		s, c, ok := a.pure(k.Sub[0])
		return s, !c, ok
	case "AND", "OR":
		if len(k.Sub) == 0 {
			return nil, false, false
		}
		set, comp, ok = a.pure(k.Sub[0])
		for _, sub := range k.Sub[1:] {
			if !ok {
				return nil, false, false
			}
			s, c, sok := a.pure(sub)
			if !sok {
				return nil, false, false
			}
			if k.Name == "AND" {
				set, comp = and(set, comp, s, c)
			} else {
				// A or B = not (not A and not B)
				set, comp = and(set, !comp, s, !c)
				comp = !comp
			}
		}
		return set, comp, ok
	}
	s, found := a.exact[k]
	return s, false, found
}

// and intersects two sets, each possibly complemented; it changes
// neither.
func and(a *roaring.Bitmap, ac bool, b *roaring.Bitmap, bc bool) (*roaring.Bitmap, bool) {
	switch {
	case !ac && !bc: // A ∩ B
		return roaring.And(a, b), false
	case !ac && bc: // A \ B
		return roaring.AndNot(a, b), false
	case ac && !bc: // B \ A
		return roaring.AndNot(b, a), false
	default: // not (A ∪ B)
		return roaring.Or(a, b), true
	}
}
