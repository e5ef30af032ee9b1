package store

import (
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

func head(m uint64, msgs, size int64) Head {
	return Head{ModSeq: mail.ModSeq(m), Messages: msgs, Size: size}
}

// TestUsageCacheMerge holds the cache's merge rules: a reading keeps a
// newer committed head, keeps a mailbox created while it ran, drops a
// mailbox no longer listed, and a commit recorded out of order never
// moves an entry back.
func TestUsageCacheMerge(t *testing.T) {
	now := time.Unix(1e9, 0)
	var c usageCache
	c.committed("u", "a", head(5, 1, 10))
	if _, ok := c.usage("u", now); ok || len(c.users) != 0 {
		t.Fatal("a commit of a user never read was recorded")
	}

	gen := c.begin("u")
	c.committed("u", "a", head(7, 3, 30))  // after the reading read a at 6
	c.committed("u", "new", head(2, 1, 5)) // created while the reading ran
	c.committed("u", "a", head(6, 2, 20))  // recorded late: older than 7
	got := c.fill("u", map[string]Head{"a": head(6, 2, 20), "b": head(3, 4, 40)}, gen, now)
	c.end("u")
	if want := (Usage{Storage: 30 + 40 + 5, Messages: 3 + 4 + 1}); got != want {
		t.Fatalf("after the first reading %+v, want %+v", got, want)
	}

	c.committed("u", "b", head(4, 5, 50))
	c.committed("u", "b", head(3, 4, 40)) // out of order: ignored
	if us, ok := c.usage("u", now); !ok || us != (Usage{Storage: 30 + 50 + 5, Messages: 3 + 5 + 1}) {
		t.Fatalf("after commits %+v %v", us, ok)
	}

	// "new" was deleted by another host before this reading began: it is
	// not listed, and no commit to it came during the reading.
	gen = c.begin("u")
	got = c.fill("u", map[string]Head{"a": head(7, 3, 30), "b": head(4, 5, 50)}, gen, now.Add(time.Second))
	c.end("u")
	if want := (Usage{Storage: 80, Messages: 8}); got != want {
		t.Fatalf("after the second reading %+v, want %+v", got, want)
	}
	if _, ok := c.usage("u", now.Add(time.Second+usageTTL)); ok {
		t.Fatal("served after usageTTL")
	}
	if len(c.filling) != 0 {
		t.Fatalf("readings left open: %v", c.filling)
	}
}
