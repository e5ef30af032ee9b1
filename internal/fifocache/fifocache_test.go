package fifocache

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func bytesOf(_ string, v []byte) int { return len(v) }

// TestBounds: the cache holds at most its bytes, the oldest go first,
// nothing stays past Age, a key put again is not dropped with its first
// stamp, an entry over a quarter of the bound is not kept, and nil or a
// zero bound keeps nothing.
func TestBounds(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := New(Options[string, []byte]{Max: 400, Size: bytesOf, Age: 30 * time.Second, Now: func() time.Time { return now }})
	val := func(i int) []byte { return []byte(fmt.Sprintf("%0100d", i)) }
	for i := range 4 {
		c.Put(fmt.Sprint(i), val(i))
		now = now.Add(time.Second)
	}
	if v, ok := c.Get("0"); !ok || string(v) != string(val(0)) {
		t.Fatal("entry 0 not kept whole")
	}
	c.Put("4", val(4)) // 500 bytes: 0 goes
	if _, ok := c.Get("0"); ok {
		t.Fatal("the oldest entry outlived the bound")
	}
	for i := 1; i <= 4; i++ {
		if _, ok := c.Get(fmt.Sprint(i)); !ok {
			t.Fatalf("entry %d dropped", i)
		}
	}
	if c.Put("big", make([]byte, 101)); func() bool { _, ok := c.Get("big"); return ok }() {
		t.Fatal("an entry over a quarter of the bound was kept")
	}
	c.Put("3", []byte("other")) // held and young: kept as it was
	if v, _ := c.Get("3"); string(v) != string(val(3)) {
		t.Fatal("a put replaced a young entry")
	}
	now = now.Add(30 * time.Second)
	if _, ok := c.Get("4"); ok {
		t.Fatal("an entry outlived Age")
	}
	// Put again after it expired: the stale stamp must not take the new
	// entry with it.
	c.Put("1", val(1))
	now = now.Add(time.Second)
	c.Put("5", val(5))
	if _, ok := c.Get("1"); !ok {
		t.Fatal("an entry put again was dropped with its stale stamp")
	}
	if s := &c.shards[0]; s.size != 200 || len(s.m) != 2 || c.Len() != 2 {
		t.Fatalf("size %d, %d entries; want 200, 2", s.size, len(s.m))
	}
	var none *Cache[string, []byte]
	none.Put("x", []byte("x"))
	if _, ok := none.Get("x"); ok || none.Len() != 0 || New(Options[string, []byte]{Size: bytesOf}) != nil {
		t.Fatal("a zero bound keeps entries")
	}
}

// TestShards: each shard holds its share of the bound, the newest entry
// stays, and without Age nothing expires.
func TestShards(t *testing.T) {
	now := time.Unix(1e9, 0)
	c := New(Options[string, []byte]{Max: 16 * 100, Shards: 16, Size: bytesOf, Hash: StringHash, Now: func() time.Time { return now }})
	for i := range 200 {
		c.Put(fmt.Sprintf("%064d", i), make([]byte, 20)) // at most 5 a shard
	}
	if n := c.Len(); n == 0 || n > 16*5 {
		t.Fatalf("%d entries kept; at most 5 in each of 16 shards", n)
	}
	now = now.Add(1000 * time.Hour)
	if _, ok := c.Get(fmt.Sprintf("%064d", 199)); !ok {
		t.Fatal("the newest entry was dropped")
	}
}

// TestConcurrent runs puts and gets at once (under -race in make test).
func TestConcurrent(t *testing.T) {
	c := New(Options[string, []byte]{Max: 4096, Shards: 4, Size: bytesOf, Hash: StringHash, Age: time.Minute})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				k := fmt.Sprint((g * i) % 300)
				if v, ok := c.Get(k); ok && string(v) != k {
					t.Errorf("Get(%q) = %q", k, v)
					return
				}
				c.Put(k, []byte(k))
			}
		})
	}
	wg.Wait()
	total := int64(0)
	for i := range c.shards {
		total += c.shards[i].size
	}
	if total > 4096 {
		t.Fatalf("%d bytes held, bound 4096", total)
	}
}

// TestDelete: a deleted entry is gone and its bytes freed; put again, it
// is held, and the bytes stay counted once when its old turn comes.
func TestDelete(t *testing.T) {
	c := New(Options[string, []byte]{Max: 400, Size: bytesOf})
	val := func(i int) []byte { return []byte(fmt.Sprintf("%0100d", i)) }
	c.Put("a", val(0))
	c.Put("b", val(1))
	c.Delete("a")
	c.Delete("nothing")
	if _, ok := c.Get("a"); ok {
		t.Fatal("a deleted entry was returned")
	}
	if s := &c.shards[0]; s.size != 100 || c.Len() != 1 {
		t.Fatalf("size %d, %d entries after Delete; want 100, 1", s.size, c.Len())
	}
	c.Put("a", val(2))
	if v, ok := c.Get("a"); !ok || string(v) != string(val(2)) {
		t.Fatal("an entry put again after Delete was not held")
	}
	for i := 3; i < 8; i++ { // push everything through the order
		c.Put(fmt.Sprint(i), val(i))
	}
	if s := &c.shards[0]; s.size != int64(100*len(s.m)) || s.size > 400 {
		t.Fatalf("size %d for %d entries", s.size, len(s.m))
	}
	var none *Cache[string, []byte]
	none.Delete("x")
}
