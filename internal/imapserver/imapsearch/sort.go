package imapsearch

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/message"
)

// Sort returns msgs ordered by the SORT criteria (RFC 5256 3, RFC 5957):
//
//	ARRIVAL      internal date
//	DATE         sent date (the Date: field, else the internal date)
//	SIZE         RFC822.SIZE
//	SUBJECT      base subject (BaseSubject)
//	FROM TO CC   local part (addr-mailbox) of the field's first address
//	DISPLAYFROM  display name of the first From address, decoded, else
//	DISPLAYTO    its addr-spec; likewise for To
//
// Strings compare with i;ascii-casemap. REVERSE inverts one criterion.
// Messages equal under all criteria keep sequence-number order. Unknown
// criteria compare equal. msgs is not modified.
func Sort(msgs []Message, criteria []imapwire.SortCriterion) []Message {
	type item struct {
		m    Message
		seq  uint32
		keys []sortKey
	}
	items := make([]item, len(msgs))
	for i, m := range msgs {
		it := item{m: m, seq: m.Seq(), keys: make([]sortKey, len(criteria))}
		var env *message.Envelope
		for j, c := range criteria {
			if env == nil && c.Key != "ARRIVAL" && c.Key != "SIZE" {
				env = envelopeOf(m)
			}
			it.keys[j] = makeSortKey(m, env, c.Key)
		}
		items[i] = it
	}
	slices.SortStableFunc(items, func(a, b item) int {
		for j, c := range criteria {
			r := a.keys[j].compare(b.keys[j])
			if c.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]Message, len(items))
	for i, it := range items {
		out[i] = it.m
	}
	return out
}

// sortKey is one criterion's value for one message: a string, a number or
// a time.
type sortKey struct {
	s string
	n int64
	t time.Time
}

func (k sortKey) compare(o sortKey) int {
	if r := strings.Compare(k.s, o.s); r != 0 {
		return r
	}
	if r := cmp.Compare(k.n, o.n); r != 0 {
		return r
	}
	return k.t.Compare(o.t)
}

func makeSortKey(m Message, env *message.Envelope, key string) sortKey {
	switch key {
	case "ARRIVAL":
		return sortKey{t: m.InternalDate()}
	case "DATE":
		if t, ok := parseDate(env.Date); ok {
			return sortKey{t: t}
		}
		return sortKey{t: m.InternalDate()}
	case "SIZE":
		return sortKey{n: m.Size()}
	case "SUBJECT":
		return sortKey{s: asciiUpper(BaseSubject(env.Subject))}
	case "FROM":
		return sortKey{s: asciiUpper(firstAddress(env.From).Mailbox)}
	case "TO":
		return sortKey{s: asciiUpper(firstAddress(env.To).Mailbox)}
	case "CC":
		return sortKey{s: asciiUpper(firstAddress(env.Cc).Mailbox)}
	case "DISPLAYFROM":
		return sortKey{s: asciiUpper(displayName(env.From))}
	case "DISPLAYTO":
		return sortKey{s: asciiUpper(displayName(env.To))}
	}
	return sortKey{}
}

// firstAddress returns the first address of a list, or an empty one.
// A group's start marker counts: its Mailbox is the group name, so
// "Cc: team: a@b;" sorts as "team", as Dovecot sorts it (imaptest's
// sort-addresses).
func firstAddress(as []message.Address) message.Address {
	if len(as) == 0 {
		return message.Address{}
	}
	return as[0]
}

// displayName is the RFC 5957 display name of an address list's first
// address: its decoded, trimmed phrase, else its addr-spec; for a group,
// the group name.
func displayName(as []message.Address) string {
	a := firstAddress(as)
	if a.Host == "" {
		return a.Mailbox
	}
	if n := strings.TrimSpace(collapseSpace(convert.DecodeHeader(a.Name))); n != "" {
		return n
	}
	return convert.AddrSpec(a)
}
