package imapserver

import (
	"fmt"
	"hash/maphash"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/fifocache"
	"github.com/quiremail/quire/internal/imapserver/imapsearch"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// The phrase filter (search.Pairs). The index narrows `BODY "server
// meeting"` to the messages holding both words; each of those would be
// read to find the phrase. A message's filter, kept in the conversion
// cache under its body, tells most of them cannot hold it, and they are
// not read: a phrase then costs about what its words do.
//
// The first phrase search that meets a message makes its filter, from
// the texts SEARCH reads (and keeps it for store.cachettl): made at
// delivery, it would cost every delivery about a tenth of its CPU
// (BenchmarkBuildPairs) for a query most mailboxes never see. Dovecot
// likewise builds its full-text index at the first search by default.
// That first search reads each candidate once to make the filter, and
// again only when the filter lets it through.
//
// Filters are also kept in memory by body (filterCache,
// imap.phrase_filter_cache): the conversion cache's read of one (a
// Pebble get and a decompression of bits that do not compress) cost 19
// µs, a third of a phrase search's CPU on the 5,000-message corpus, where
// probing it costs 0.6 µs.

// ruledOut is imapsearch.Context.RuledOut: whether the candidate's
// phrase filter shows it cannot hold k's text.
func (c *conn) ruledOut(k *imapwire.SearchKey, m imapsearch.Message) bool {
	x, ok := m.(*candidate)
	if !ok || len(search.PhrasePairs(k.Value)) == 0 {
		return false
	}
	if !x.hasPairs {
		p, err := x.m.pairs()
		if err != nil {
			// Reading the message fails the search the same way.
			c.log.Debug("imap: no phrase filter", "uid", x.UID(), "err", err)
			return false
		}
		x.pairs, x.hasPairs = p, true
	}
	return !x.pairs.MayContain(k.Value)
}

// filterCache keeps phrase filters by body; a filter is its body's
// (made from the converter's version this process runs), so an entry
// never goes stale. A nil cache keeps nothing.
type filterCache = fifocache.Cache[store.BlobID, search.Pairs]

func newFilterCache(max int64) *filterCache {
	return fifocache.New(fifocache.Options[store.BlobID, search.Pairs]{
		Max:    max,
		Shards: 16,
		Size:   func(k store.BlobID, p search.Pairs) int { return len(k) + len(p) },
		Hash:   func(seed maphash.Seed, k store.BlobID) uint64 { return maphash.String(seed, string(k)) },
	})
}

// pairs returns the message's phrase filter from memory or the
// conversion cache, or makes it from the message and keeps it in both.
func (m *fetchMsg) pairs() (search.Pairs, error) {
	st, id := m.c.srv.opts.Store, m.row.Meta.Blob
	if p, ok := m.c.srv.filters.Get(id); ok {
		return p, nil
	}
	key := search.PairsKey(string(id), convert.Version)
	if kind, text, ok, err := st.GetText(m.ctx, key); err == nil && ok && kind == search.PairsKind {
		m.c.srv.filters.Put(id, search.Pairs(text))
		return search.Pairs(text), nil
	}
	b, err := m.body()
	if err != nil {
		return "", err
	}
	p := m.structure()
	header, body := convert.SearchHeader(b, p), convert.SearchBody(b, p)
	var att string
	if conv := m.c.srv.opts.Attachments; conv != nil && convert.HasAttachments(p) {
		raw := make([]byte, max(m.row.Meta.Size, 0))
		n, err := b.ReadAt(raw, 0)
		if n < len(raw) && err != nil {
			return "", fmt.Errorf("imap: read message %d for its phrase filter: %w", m.row.UID, err)
		}
		att = conv(m.ctx, raw[:n], p)
	}
	pairs := search.BuildPairs(header, body, att)
	m.c.srv.filters.Put(id, pairs)
	if err := st.PutText(m.ctx, key, search.PairsKind, string(pairs)); err != nil {
		m.c.log.Debug("imap: keeping a phrase filter failed; the next phrase search reads the message again", "uid", m.row.UID, "err", err)
	}
	return pairs, nil
}
