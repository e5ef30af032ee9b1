package imapserver

import (
	"fmt"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/imapserver/imapsearch"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/search"
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

// pairs returns the message's phrase filter from the conversion cache,
// or makes it from the message and keeps it there.
func (m *fetchMsg) pairs() (search.Pairs, error) {
	st := m.c.srv.opts.Store
	key := search.PairsKey(string(m.row.Meta.Blob), convert.Version)
	if kind, text, ok, err := st.GetText(m.ctx, key); err == nil && ok && kind == search.PairsKind {
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
	if err := st.PutText(m.ctx, key, search.PairsKind, string(pairs)); err != nil {
		m.c.log.Debug("imap: keeping a phrase filter failed; the next phrase search reads the message again", "uid", m.row.UID, "err", err)
	}
	return pairs, nil
}
