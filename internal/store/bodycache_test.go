package store

import (
	"bytes"
	"testing"
	"time"
)

// TestRecentBodies: the store's body cache counts a body's capacity,
// keeps it recentFor and no longer, and a zero bound keeps nothing (the
// bounds themselves: internal/fifocache).
func TestRecentBodies(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := newRecentBodies(400, func() time.Time { return now })
	c.Put("a", bytes.Repeat([]byte("a"), 100))
	c.Put("b", make([]byte, 10, 101)) // over a quarter by capacity
	if b, ok := c.Get("a"); !ok || len(b) != 100 {
		t.Fatal("body a not kept whole")
	}
	if _, ok := c.Get("b"); ok {
		t.Fatal("a body over a quarter of the bound by capacity was kept")
	}
	now = now.Add(recentFor)
	if _, ok := c.Get("a"); ok {
		t.Fatal("a body outlived recentFor")
	}
	if newRecentBodies(0, time.Now) != nil {
		t.Fatal("a zero bound keeps bodies")
	}
}
