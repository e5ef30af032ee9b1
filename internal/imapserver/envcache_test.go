package imapserver

import (
	"fmt"
	"slices"
	"testing"

	"github.com/quiremail/quire/internal/store"
)

// TestEnvelopeCacheSessions: FETCH ENVELOPE answers the same from the
// cache as when it encoded the envelope, and a UTF8=ACCEPT session (RFC
// 6855 3), whose strings go out as raw UTF-8 rather than literals, has
// entries of its own: neither form is served to the other session.
func TestEnvelopeCacheSessions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver("From: Zoë <zoe@example.org>\r\nSubject: Grüße\r\nMessage-ID: <env@x>\r\n\r\nhi\r\n")
		ascii := e.login()
		ascii.ok("SELECT INBOX")
		utf := e.login()
		utf.ok("ENABLE UTF8=ACCEPT")
		utf.ok("SELECT INBOX")
		// RFC 9051 7.5.2: 8-bit strings outside UTF8=ACCEPT are literals.
		addr := "(({4}\r\nZoë NIL \"zoe\" \"example.org\"))"
		wantASCII := []string{"* 1 FETCH (ENVELOPE (NIL {7}\r\nGrüße " + addr + " " + addr + " " + addr + " NIL NIL NIL NIL \"<env@x>\"))"}
		wantUTF := []string{"* 1 FETCH (ENVELOPE (NIL \"Grüße\" ((\"Zoë\" NIL \"zoe\" \"example.org\")) ((\"Zoë\" NIL \"zoe\" \"example.org\")) ((\"Zoë\" NIL \"zoe\" \"example.org\")) NIL NIL NIL NIL \"<env@x>\"))"}
		for i := range 2 { // encoded, then from the cache
			if got := ascii.ok("FETCH 1 ENVELOPE"); !slices.Equal(got, wantASCII) {
				t.Errorf("round %d, plain session: %q", i, got)
			}
			if got := utf.ok("FETCH 1 ENVELOPE"); !slices.Equal(got, wantUTF) {
				t.Errorf("round %d, UTF8=ACCEPT session: %q", i, got)
			}
		}
	})
}

// TestEnvelopeCacheBounds: the cache's shards hold at most their share
// of its bytes, counting the key, and a zero bound keeps nothing (the
// bounds themselves: internal/fifocache).
func TestEnvelopeCacheBounds(t *testing.T) {
	c := newEnvelopeCache(16 * 400) // 400 bytes a shard
	k := func(i int) envelopeKey { return envelopeKey{body: store.BlobID(fmt.Sprintf("%064d", i))} }
	for i := range 200 {
		c.Put(k(i), make([]byte, 10)) // 74 bytes with the key: 5 a shard
	}
	if n := c.Len(); n == 0 || n > 16*5 {
		t.Fatalf("%d entries kept; at most 5 in each of 16 shards", n)
	}
	if _, ok := c.Get(k(199)); !ok {
		t.Fatal("the newest entry was dropped")
	}
	if newEnvelopeCache(0) != nil {
		t.Fatal("a zero bound keeps envelopes")
	}
}
