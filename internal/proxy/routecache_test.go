package proxy

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
)

// countingDir knows a@x.test (mailHost east, then whatever the test
// sets) and counts its lookups.
type countingDir struct {
	mu       sync.Mutex
	lookups  int
	mailHost string
}

func (d *countingDir) Lookup(_ context.Context, a string) (directory.Entry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lookups++
	if a != "a@x.test" && a != "A@X.test" {
		return directory.Entry{}, mail.ErrNoSuchUser
	}
	return directory.Entry{Address: "a@x.test", MailHost: d.mailHost}, nil
}

// TestRouteCache: a found user is looked up once per TTL (the address's
// case aside), a new mailHost shows after the TTL, an unknown user is
// asked for every time, and a TTL of 0 caches nothing.
func TestRouteCache(t *testing.T) {
	ctx := context.Background()
	clock := time.Unix(1e9, 0)
	d := &countingDir{mailHost: "east"}
	c := NewRouteCache(d, 10*time.Second, func() time.Time { return clock })
	for _, a := range []string{"a@x.test", "A@X.test", "a@x.test"} {
		if e, err := c.Lookup(ctx, a); err != nil || e.MailHost != "east" {
			t.Fatalf("%s: %v %v", a, e, err)
		}
	}
	if d.lookups != 1 {
		t.Fatalf("%d lookups for three logins within the TTL, want 1", d.lookups)
	}
	d.mailHost = "west"
	clock = clock.Add(9 * time.Second)
	if e, _ := c.Lookup(ctx, "a@x.test"); e.MailHost != "east" {
		t.Fatalf("within the TTL: %q, want the cached east", e.MailHost)
	}
	clock = clock.Add(time.Second)
	if e, _ := c.Lookup(ctx, "a@x.test"); e.MailHost != "west" || d.lookups != 2 {
		t.Fatalf("after the TTL: %q after %d lookups, want west after 2", e.MailHost, d.lookups)
	}
	for range 2 {
		if _, err := c.Lookup(ctx, "ghost@x.test"); !errors.Is(err, mail.ErrNoSuchUser) {
			t.Fatalf("unknown user: %v", err)
		}
	}
	if d.lookups != 4 {
		t.Fatalf("%d lookups, want every unknown user's asked (4)", d.lookups)
	}
	if c := NewRouteCache(d, 0, nil); c != Directory(d) {
		t.Fatalf("TTL 0: %T, want the directory itself", c)
	}
}
