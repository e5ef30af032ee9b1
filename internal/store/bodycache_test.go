package store

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

func readAll(t *testing.T, b Blob) string {
	t.Helper()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.NewSectionReader(b, 0, b.Size())); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestRecentBodiesBounds: the cache holds at most its bytes, the oldest
// go first, nothing stays past recentFor, a body put again is not
// dropped with its first entry, and a body over a quarter of the bound
// is not kept.
func TestRecentBodiesBounds(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := newRecentBodies(400, func() time.Time { return now })
	body := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 100) }
	for i := range 4 {
		c.put(BlobID(fmt.Sprint(i)), body(i)[:100:100])
		now = now.Add(time.Second)
	}
	if b, ok := c.get("0"); !ok || readAll(t, b) != string(body(0)) || b.Size() != 100 {
		t.Fatal("body 0 not kept whole")
	}
	c.put("4", body(4)[:100:100]) // 500 bytes: 0 goes
	if _, ok := c.get("0"); ok {
		t.Fatal("the oldest body outlived the bound")
	}
	for i := 1; i <= 4; i++ {
		if _, ok := c.get(BlobID(fmt.Sprint(i))); !ok {
			t.Fatalf("body %d dropped", i)
		}
	}
	if c.put("big", make([]byte, 101)); func() bool { _, ok := c.get("big"); return ok }() {
		t.Fatal("a body over a quarter of the bound was kept")
	}
	now = now.Add(recentFor)
	if _, ok := c.get("4"); ok {
		t.Fatal("a body outlived recentFor")
	}
	// Put again after it expired: the stale queue entry must not take
	// the new one with it.
	c.put("1", body(1)[:100:100])
	now = now.Add(time.Second)
	c.put("5", body(5)[:100:100])
	if _, ok := c.get("1"); !ok {
		t.Fatal("a body put again was dropped with its stale entry")
	}
	if c.size != 200 || len(c.m) != 2 {
		t.Fatalf("size %d, %d bodies; want 200, 2", c.size, len(c.m))
	}
	var none *recentBodies
	none.put("x", []byte("x"))
	if _, ok := none.get("x"); ok || newRecentBodies(0, time.Now) != nil {
		t.Fatal("a zero bound keeps bodies")
	}
}
