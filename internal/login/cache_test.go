package login

import (
	"testing"
	"time"
)

func TestCacheTTLAndHash(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	vc := newVerifiedCache(time.Minute, 10, c.now)
	vc.put("u", "pw", "$hash1")
	for _, q := range []struct {
		user, pw, hash string
		want           bool
	}{
		{"u", "pw", "$hash1", true},
		{"u", "pw", "$hash2", false}, // the password was changed
		{"u", "pw2", "$hash1", false},
		{"u2", "pw", "$hash1", false},
		{"up", "w", "$hash1", false}, // the split between user and password counts
	} {
		if got := vc.hit(q.user, q.pw, q.hash); got != q.want {
			t.Errorf("hit(%q, %q, %q) = %v, want %v", q.user, q.pw, q.hash, got, q.want)
		}
	}
	if !vc.live("u", "pw") || vc.live("u", "x") {
		t.Fatal("live")
	}
	c.t = c.t.Add(time.Minute)
	if vc.hit("u", "pw", "$hash1") || vc.live("u", "pw") {
		t.Fatal("entry outlived its TTL")
	}
	var off *verifiedCache = newVerifiedCache(0, 10, c.now)
	off.put("u", "pw", "$h")
	if off != nil || off.hit("u", "pw", "$h") || off.live("u", "pw") {
		t.Fatal("a zero TTL cache remembers")
	}
}

func TestCacheBounded(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	vc := newVerifiedCache(time.Hour, 100, c.now)
	for i := range 1000 {
		c.t = c.t.Add(time.Millisecond)
		vc.put(string(rune('a'+i%26))+string(rune('0'+i/26)), "pw", "$h")
	}
	if n := len(vc.mu.m); n > 100 {
		t.Fatalf("cache holds %d entries, max 100", n)
	}
	if !vc.hit(string(rune('a'+999%26))+string(rune('0'+999/26)), "pw", "$h") {
		t.Fatal("the newest entry was evicted")
	}
	// Expired entries go first: a full set of fresh ones all stays.
	c.t = c.t.Add(2 * time.Hour)
	for i := range 100 {
		vc.put("fresh"+string(rune('0'+i)), "pw", "$h")
	}
	for i := range 100 {
		if !vc.hit("fresh"+string(rune('0'+i)), "pw", "$h") {
			t.Fatalf("fresh entry %d evicted while expired ones were kept", i)
		}
	}
	if n := len(vc.mu.m); n != 100 {
		t.Fatalf("%d entries, want the 100 fresh ones", n)
	}
}
