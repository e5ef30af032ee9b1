package imapserver

import (
	"context"

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
type textAnswers struct {
	mark  mail.UID
	exact map[*imapwire.SearchKey]map[mail.UID]bool // text keys the index answered
	// cands, when narrowed, holds every indexed UID that may satisfy
	// the whole program; the others cannot.
	cands    map[mail.UID]bool
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
	a := &textAnswers{mark: mail.UID(mark), exact: map[*imapwire.SearchKey]map[mail.UID]bool{}}
	a.cands, a.narrowed, err = a.narrow(ctx, idx, s.mb.UserID, s.mb.ID, key)
	return a, err
}

// narrow returns the indexed UIDs that may satisfy k, recording the
// exact answer of each text key on the way: AND intersects what its keys
// narrow, OR unites (both sides must narrow), and NOT and the other keys
// do not narrow.
func (a *textAnswers) narrow(ctx context.Context, idx search.Index, user, mb string, k *imapwire.SearchKey) (map[mail.UID]bool, bool, error) {
	query := func(fields []string, text string) (map[mail.UID]bool, bool, error) {
		uids, ok, err := idx.Search(ctx, user, mb, text, fields...)
		if err != nil || !ok {
			return nil, false, err
		}
		set := make(map[mail.UID]bool, len(uids))
		for _, u := range uids {
			set[mail.UID(u)] = true
		}
		return set, true, nil
	}
	switch k.Name {
	case "AND":
		var acc map[mail.UID]bool
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
				acc, narrowed = clone(set), true
				continue
			}
			for u := range acc {
				if !set[u] {
					delete(acc, u)
				}
			}
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
		out := clone(l)
		for u := range r {
			out[u] = true
		}
		return out, true, nil
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

func clone(m map[mail.UID]bool) map[mail.UID]bool {
	out := make(map[mail.UID]bool, len(m))
	for u := range m {
		out[u] = true
	}
	return out
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
	return set[uid], true
}

// pure answers a program made only of text keys the index answered
// (under AND, OR and NOT, and ALL), for the indexed messages, without
// reading any: the set, or its complement when comp is set. ok is false
// for any other program.
func (a *textAnswers) pure(k *imapwire.SearchKey) (set map[mail.UID]bool, comp, ok bool) {
	switch k.Name {
	case "ALL":
		return map[mail.UID]bool{}, true, true
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

// and intersects two sets, each possibly complemented.
func and(a map[mail.UID]bool, ac bool, b map[mail.UID]bool, bc bool) (map[mail.UID]bool, bool) {
	out := map[mail.UID]bool{}
	switch {
	case !ac && !bc: // A ∩ B
		for u := range a {
			if b[u] {
				out[u] = true
			}
		}
		return out, false
	case !ac && bc: // A \ B
		for u := range a {
			if !b[u] {
				out[u] = true
			}
		}
		return out, false
	case ac && !bc: // B \ A
		return and(b, false, a, true)
	default: // not (A ∪ B)
		out = clone(a)
		for u := range b {
			out[u] = true
		}
		return out, true
	}
}
