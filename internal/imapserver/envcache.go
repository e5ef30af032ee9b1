package imapserver

import (
	"bufio"
	"bytes"
	"hash/maphash"

	"github.com/quiremail/quire/internal/fifocache"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/store"
)

// envelopeCache keeps FETCH ENVELOPE's encoded form of messages
// (RFC 9051 7.5.2), by body: a client that lists a mailbox's envelopes
// at every session (webmail, a client without a header cache, imaptest's
// default profile) otherwise decodes each message's envelope from its
// row and encodes it again, 15 % of quire's CPU in the IMAP mix. Dovecot
// keeps the same string in its cache file (imap.envelope). Bodies are
// content-addressed, and the envelope is the body's, so an entry never
// goes stale; UTF8=ACCEPT sessions (RFC 6855) encode strings otherwise
// and have entries of their own.
//
// Bounded by bytes (imap.envelope_cache), in 16 shards that each forget
// their oldest entries first (fifocache). A nil cache keeps nothing.
type envelopeCache = fifocache.Cache[envelopeKey, []byte]

type envelopeKey struct {
	body store.BlobID
	utf8 bool
}

func newEnvelopeCache(max int64) *envelopeCache {
	return fifocache.New(fifocache.Options[envelopeKey, []byte]{
		Max:    max,
		Shards: 16,
		Size:   func(k envelopeKey, b []byte) int { return len(b) + len(k.body) },
		Hash:   func(seed maphash.Seed, k envelopeKey) uint64 { return maphash.String(seed, string(k.body)) },
	})
}

// writeEnvelope writes m's ENVELOPE: from the cache, or encoded here and
// kept.
func (c *conn) writeEnvelope(m *fetchMsg) {
	k := envelopeKey{body: m.row.Meta.Blob, utf8: c.w.UTF8Accept()}
	if c.srv.envelopes == nil || k.body == "" { // no body: no key
		c.w.Envelope(m.envelope())
		return
	}
	if b, ok := c.srv.envelopes.Get(k); ok {
		c.w.RawBytes(b)
		return
	}
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 512)
	w := imapwire.NewWriter(bw)
	w.SetUTF8Accept(k.utf8)
	w.Envelope(m.envelope())
	_ = bw.Flush()
	b := buf.Bytes()
	c.srv.envelopes.Put(k, b)
	c.w.RawBytes(b)
}
