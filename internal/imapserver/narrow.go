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
	// whole, when set, is the engine's answer to the whole program, an
	// AND of exact text keys asked as one conjunction (conjunction):
	// the program's answer for the indexed messages. No key has an
	// answer of its own then.
	whole *roaring.Bitmap
}

// searchFields maps SEARCH's text keys to the index fields they read:
// BODY reads the text parts and the attachments, TEXT the header too.
var searchFields = map[string][]string{
	"SUBJECT": {search.FieldSubject}, "FROM": {search.FieldFrom}, "TO": {search.FieldTo},
	"CC": {search.FieldCc}, "BCC": {search.FieldBcc},
	"BODY": {search.FieldBody, search.FieldAttachments},
	"TEXT": {search.FieldHeaders, search.FieldBody, search.FieldAttachments},
}

// textAnswers asks the index about the program's text keys, all in one
// SearchAll; nil when there is no index. The mark comes with the
// answers: whatever it covers was visible to every one of them. When
// no row is wanted (rows false) and the program is an AND of exact text
// keys, it is asked as one conjunction.
func (c *conn) textAnswers(ctx context.Context, key *imapwire.SearchKey, rows bool) (*textAnswers, error) {
	idx := c.srv.opts.Search
	if idx == nil || !hasTextKey(key) {
		return nil, nil
	}
	s := c.sel
	if q, ok := conjunction(key); ok && !rows {
		mark, answers, err := idx.SearchAll(ctx, s.mb.UserID, s.mb.ID, []search.Query{q})
		if err != nil {
			return nil, err
		}
		if answers[0].OK {
			set := roaring.BitmapOf(answers[0].UIDs...)
			return &textAnswers{mark: mail.UID(mark), exact: map[*imapwire.SearchKey]*roaring.Bitmap{},
				cands: set, narrowed: true, whole: set}, nil
		}
	}
	var keys []*imapwire.SearchKey
	var qs []search.Query
	textKeys(key, func(k *imapwire.SearchKey, q search.Query) {
		keys = append(keys, k)
		qs = append(qs, q)
	})
	mark, answers, err := idx.SearchAll(ctx, s.mb.UserID, s.mb.ID, qs)
	if err != nil {
		return nil, err
	}
	got := make(map[*imapwire.SearchKey]*roaring.Bitmap, len(keys))
	for i, k := range keys {
		if answers[i].OK {
			got[k] = roaring.BitmapOf(answers[i].UIDs...)
		}
	}
	a := &textAnswers{mark: mail.UID(mark), exact: map[*imapwire.SearchKey]*roaring.Bitmap{}}
	a.cands, a.narrowed = a.narrow(got, key)
	return a, nil
}

// conjunction is the program as one query when it is an AND of two or
// more text keys the index answers exactly (search.Exact): the engine
// intersects them and sends one list, where their own answers would be
// as long each. The 100,000-message benchmark's two-word BODY and TEXT
// programs return 71,000 UIDs this way instead of 150,000.
func conjunction(k *imapwire.SearchKey) (search.Query, bool) {
	if k.Name != "AND" || len(k.Sub) < 2 {
		return search.Query{}, false
	}
	var all []search.Query
	for _, sub := range k.Sub {
		fields, ok := searchFields[sub.Name]
		if !ok || !search.Exact(sub.Value) {
			return search.Query{}, false
		}
		all = append(all, search.Query{Text: sub.Value, Fields: fields})
	}
	return search.Query{All: all}, true
}

// textKeys calls f for each key of the program the index can be asked
// about, with its query, in the program's order.
func textKeys(k *imapwire.SearchKey, f func(*imapwire.SearchKey, search.Query)) {
	switch k.Name {
	case "HEADER":
		// The header text holds "Name: value" lines: the value narrows,
		// but only the evaluator can tell which field holds it.
		if k.Value != "" {
			f(k, search.Query{Text: k.Value, Fields: []string{search.FieldHeaders}})
		}
		return
	}
	if fields, ok := searchFields[k.Name]; ok {
		f(k, search.Query{Text: k.Value, Fields: fields})
		return
	}
	for _, sub := range k.Sub {
		textKeys(sub, f)
	}
}

// narrow returns the indexed UIDs that may satisfy k, given the index's
// answers to the text keys (got), recording the exact answer of each
// text key on the way: AND intersects what its keys narrow, OR unites
// (both sides must narrow), and NOT and the other keys do not narrow.
// The sets it returns are its own to change; the exact ones it records
// are not changed afterwards.
func (a *textAnswers) narrow(got map[*imapwire.SearchKey]*roaring.Bitmap, k *imapwire.SearchKey) (*roaring.Bitmap, bool) {
	switch k.Name {
	case "AND":
		var acc *roaring.Bitmap
		narrowed := false
		for _, sub := range k.Sub {
			set, ok := a.narrow(got, sub)
			if !ok {
				continue
			}
			if !narrowed {
				acc, narrowed = set, true
				continue
			}
			acc.And(set)
		}
		return acc, narrowed
	case "OR":
		l, lok := a.narrow(got, k.Sub[0])
		r, rok := a.narrow(got, k.Sub[1])
		if !lok || !rok {
			return nil, false
		}
		l.Or(r)
		return l, true
	case "NOT":
		// Not narrowing, but its keys' answers serve the evaluator.
		a.narrow(got, k.Sub[0])
		return nil, false
	}
	set, ok := got[k]
	if !ok {
		return nil, false
	}
	if k.Name == "HEADER" || !search.Exact(k.Value) {
		return set, true // used once: the key is in the tree once
	}
	a.exact[k] = set
	return set.Clone(), true
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

// program answers the whole program when the engine did (whole), and
// otherwise as pure does.
func (a *textAnswers) program(k *imapwire.SearchKey) (set *roaring.Bitmap, comp, ok bool) {
	if a.whole != nil {
		return a.whole, false, true
	}
	return a.pure(k)
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
