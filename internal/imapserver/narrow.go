package imapserver

import (
	"context"
	"slices"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/search"
)

// textCandidates narrows a search program through the full-text index
// (DESIGN.md section 4): the UIDs of the view that may satisfy its text
// criteria. ok is false when the index cannot narrow the program (no
// index; a path through it without a text criterion of at least
// search.MinQuery characters), and then every message is a candidate.
//
// The candidates are the index's, plus every message above the
// mailbox's mark, which the index may not hold yet: the mark is read
// before the queries, so whatever it covers is visible to them. The
// evaluator then keeps RFC 9051's substring meaning on each candidate.
func (c *conn) textCandidates(ctx context.Context, key *imapwire.SearchKey) (map[mail.UID]bool, bool, error) {
	idx := c.srv.opts.Search
	if idx == nil {
		return nil, false, nil
	}
	s := c.sel
	mark, err := idx.Indexed(ctx, s.mb.UserID, s.mb.ID)
	if err != nil {
		return nil, false, err
	}
	set, ok, err := c.narrowKey(ctx, idx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	// The view's UIDs ascend: those above the mark are its tail.
	i, _ := slices.BinarySearch(s.uids, mail.UID(mark)+1)
	for _, u := range s.uids[i:] {
		set[u] = true
	}
	return set, true, nil
}

// searchFields maps SEARCH's text keys to index fields.
var searchFields = map[string]string{
	"SUBJECT": search.FieldSubject, "FROM": search.FieldFrom, "TO": search.FieldTo,
	"CC": search.FieldCc, "BCC": search.FieldBcc, "BODY": search.FieldBody,
}

// narrowKey returns the candidates of one key: AND intersects what its
// keys narrow, OR unites (both sides must narrow), and NOT and every
// non-text key do not narrow.
func (c *conn) narrowKey(ctx context.Context, idx search.Index, k *imapwire.SearchKey) (map[mail.UID]bool, bool, error) {
	s := c.sel
	query := func(field, text string) (map[mail.UID]bool, bool, error) {
		uids, ok, err := idx.Search(ctx, s.mb.UserID, s.mb.ID, field, text)
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
			set, ok, err := c.narrowKey(ctx, idx, sub)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				continue
			}
			if !narrowed {
				acc, narrowed = set, true
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
		a, ok, err := c.narrowKey(ctx, idx, k.Sub[0])
		if err != nil || !ok {
			return nil, false, err
		}
		b, ok, err := c.narrowKey(ctx, idx, k.Sub[1])
		if err != nil || !ok {
			return nil, false, err
		}
		for u := range b {
			a[u] = true
		}
		return a, true, nil
	case "TEXT":
		// The header or the body (RFC 9051 6.4.4).
		a, ok, err := query(search.FieldHeaders, k.Value)
		if err != nil || !ok {
			return nil, false, err
		}
		b, _, err := query(search.FieldBody, k.Value)
		if err != nil {
			return nil, false, err
		}
		for u := range b {
			a[u] = true
		}
		return a, true, nil
	case "HEADER":
		// The header text holds "Name: value" lines: the value narrows.
		if k.Value == "" {
			return nil, false, nil
		}
		return query(search.FieldHeaders, k.Value)
	}
	if f, ok := searchFields[k.Name]; ok {
		return query(f, k.Value)
	}
	return nil, false, nil
}
