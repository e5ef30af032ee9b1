package imapserver

import (
	"bufio"
	"bytes"
	"hash/maphash"
	"sync"

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
// Bounded by bytes (imap.envelope_cache), in shards that each forget
// their oldest entries first. Safe for concurrent use; nil keeps nothing.
type envelopeCache struct {
	seed   maphash.Seed
	shards [16]envelopeShard
}

type envelopeShard struct {
	mu    sync.Mutex
	max   int
	size  int
	m     map[envelopeKey][]byte
	order []envelopeKey // oldest first, from head
	head  int
}

type envelopeKey struct {
	body store.BlobID
	utf8 bool
}

func newEnvelopeCache(max int64) *envelopeCache {
	if max <= 0 {
		return nil
	}
	c := &envelopeCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i] = envelopeShard{max: int(max) / len(c.shards), m: map[envelopeKey][]byte{}}
	}
	return c
}

func (c *envelopeCache) shard(k envelopeKey) *envelopeShard {
	return &c.shards[maphash.String(c.seed, string(k.body))%uint64(len(c.shards))]
}

func (c *envelopeCache) get(k envelopeKey) ([]byte, bool) {
	if c == nil || k.body == "" {
		return nil, false
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[k]
	return b, ok
}

func (c *envelopeCache) put(k envelopeKey, b []byte) {
	if c == nil || k.body == "" {
		return
	}
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(b) + len(k.body)
	if _, ok := s.m[k]; ok || n > s.max {
		return
	}
	s.m[k] = b
	s.order = append(s.order, k)
	s.size += n
	for s.size > s.max && s.head < len(s.order) {
		old := s.order[s.head]
		s.head++
		s.size -= len(s.m[old]) + len(old.body)
		delete(s.m, old)
	}
	if s.head > len(s.order)/2 {
		s.order = append(s.order[:0], s.order[s.head:]...)
		s.head = 0
	}
}

// writeEnvelope writes m's ENVELOPE: from the cache, or encoded here and
// kept.
func (c *conn) writeEnvelope(m *fetchMsg) {
	k := envelopeKey{body: m.row.Meta.Blob, utf8: c.w.UTF8Accept()}
	if b, ok := c.srv.envelopes.get(k); ok {
		c.w.RawBytes(b)
		return
	}
	if c.srv.envelopes == nil {
		c.w.Envelope(m.envelope())
		return
	}
	var buf bytes.Buffer
	bw := bufio.NewWriterSize(&buf, 512)
	w := imapwire.NewWriter(bw)
	w.SetUTF8Accept(k.utf8)
	w.Envelope(m.envelope())
	_ = bw.Flush()
	b := buf.Bytes()
	c.srv.envelopes.put(k, b)
	c.w.RawBytes(b)
}
