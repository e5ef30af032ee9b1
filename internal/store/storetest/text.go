package storetest

import (
	"crypto/sha256"
	"strings"
	"testing"
)

// testTextCache: the converter's cache returns what was put under a hash,
// reports a missing hash as a miss, and takes a newer text for a hash.
func testTextCache(t testing.TB, e *env) {
	h := sha256.Sum256([]byte(randHex(8)))
	if _, _, ok, err := e.s.GetText(e.ctx, h[:]); ok || err != nil {
		t.Fatalf("a missing entry: ok=%v err=%v", ok, err)
	}
	big := strings.Repeat("zeppelin fjord ", 50000)
	if err := e.s.PutText(e.ctx, h[:], "pdf", big); err != nil {
		t.Fatal(err)
	}
	kind, text, ok, err := e.s.GetText(e.ctx, h[:])
	if err != nil || !ok || kind != "pdf" || text != big {
		t.Fatalf("got kind %q, %d bytes, ok=%v, %v", kind, len(text), ok, err)
	}
	if err := e.s.PutText(e.ctx, h[:], "docx", "newer"); err != nil {
		t.Fatal(err)
	}
	if kind, text, _, err := e.s.GetText(e.ctx, h[:]); kind != "docx" || text != "newer" {
		t.Fatalf("after a second put: %q %q, %v", kind, text, err)
	}
}
