package login

import (
	"context"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// TestStats: each way a login ends is counted once, under its own name:
// a checked password, a cached one, a wrong one, an unknown user, an
// attempt delayed for earlier failures, and a refusal for a full hash
// budget (with the check that waited for it seen in HashWaiting).
func TestStats(t *testing.T) {
	us := &mutableUsers{m: map[string]store.User{"me@x.test": {ID: "1", Address: "me@x.test", PasswordHash: mustHash(t, "secret")}}}
	// A budget of many checks: only the test's hold makes one wait, not
	// the garbage of the previous check (TestLoginBusyPastDeadline's
	// concern), so the counts hold under -race on a loaded machine.
	b := NewBudget(1 << 30)
	g := NewGuard(GuardOptions{FreeFailures: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond})
	a := NewAuthenticatorWith(us, g, AuthOptions{Budget: b, HashWait: 200 * time.Millisecond, CacheTTL: time.Minute, CacheEntries: 10}, nil)
	ctx := context.Background()
	login := func(user, pw string) { _, _ = a.Login(ctx, user, pw, "10.0.0.1") }

	login("me@x.test", "secret") // passed
	login("me@x.test", "secret") // cached
	login("me@x.test", "wrong")  // failed
	login("no@x.test", "x")      // failed (unknown user), the address's second failure
	login("me@x.test", "wrong")  // failed, delayed: the address has failed twice
	if got, want := a.Stats(), (Stats{Passed: 1, Cached: 1, Failed: 3, Delayed: 1}); got != want {
		t.Fatalf("Stats %+v, want %+v", got, want)
	}

	hold, err := b.Acquire(ctx, b.Size())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { login("other@x.test", "x"); close(done) }()
	for deadline := time.Now().Add(5 * time.Second); a.Stats().HashWaiting != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the check waiting for hash memory is not in HashWaiting")
		}
	}
	<-done
	hold()
	if got, want := a.Stats(), (Stats{Passed: 1, Cached: 1, Failed: 3, Delayed: 2, Busy: 1}); got != want {
		t.Fatalf("Stats after a busy refusal %+v, want %+v", got, want)
	}
}
