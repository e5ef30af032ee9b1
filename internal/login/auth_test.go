package login

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// mutableUsers is a Users whose records the test changes, as
// "quire user passwd" and "user del" do in the store.
type mutableUsers struct {
	mu sync.Mutex
	m  map[string]store.User
}

func (u *mutableUsers) User(_ context.Context, a string) (store.User, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if x, ok := u.m[a]; ok {
		return x, nil
	}
	return store.User{}, mail.ErrNoSuchUser
}

func (u *mutableUsers) set(a string, x *store.User) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if x == nil {
		delete(u.m, a)
	} else {
		u.m[a] = *x
	}
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := directory.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestLoginBusyPastDeadline: with the memory budget held elsewhere, a
// login waits login.hash_wait and is refused as temporarily unavailable,
// not as a wrong password, and is not counted as a failure.
func TestLoginBusyPastDeadline(t *testing.T) {
	us := &mutableUsers{m: map[string]store.User{"me@x.test": {ID: "1", Address: "me@x.test", PasswordHash: mustHash(t, "secret")}}}
	b := NewBudget(64 << 20)
	g := NewGuard(GuardOptions{FreeFailures: 1, BaseDelay: time.Hour, MaxDelay: time.Hour})
	a := NewAuthenticatorWith(us, g, AuthOptions{Budget: b, HashWait: 50 * time.Millisecond}, nil)
	hold, err := b.Acquire(context.Background(), b.Size())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = a.Login(context.Background(), "me@x.test", "secret", "10.0.0.1")
	if !errors.Is(err, ErrBusy) || !errors.Is(err, mail.ErrUnavailable) || errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("budget full: %v, want ErrBusy wrapped in ErrUnavailable", err)
	}
	if el := time.Since(start); el < 50*time.Millisecond || el > 5*time.Second {
		t.Fatalf("refused after %v, want about hash_wait (50ms)", el)
	}
	hold()
	// Not counted: the next attempt is not delayed (BaseDelay is an hour,
	// FreeFailures 1).
	a.sleep = func(context.Context, time.Duration) error { t.Fatal("delayed after a busy refusal"); return nil }
	if _, err := a.Login(context.Background(), "me@x.test", "secret", "10.0.0.1"); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

// TestLoginCache: a verified password is remembered for the TTL against
// the stored hash: a cached login needs no hash memory; a password change
// or a deleted user ends it at once.
func TestLoginCache(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	me := store.User{ID: "1", Address: "me@x.test", PasswordHash: mustHash(t, "secret")}
	us := &mutableUsers{m: map[string]store.User{"me@x.test": me}}
	b := NewBudget(64 << 20)
	a := NewAuthenticatorWith(us, NewGuard(GuardOptions{MaxDelay: time.Millisecond}), AuthOptions{Budget: b, HashWait: time.Second, CacheTTL: time.Minute, CacheEntries: 10, Now: c.now}, nil)
	ctx := context.Background()
	if _, err := a.Login(ctx, "me@x.test", "secret", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	hold, _ := b.Acquire(ctx, b.Size()) // any hashing now fails with ErrBusy
	if u, err := a.Login(ctx, "Me@X.test", "secret", "10.0.0.2"); err != nil || u.ID != "1" {
		t.Fatalf("cached login: %v %v", u, err)
	}
	if _, err := a.Login(ctx, "me@x.test", "wrong", "10.0.0.2"); !errors.Is(err, ErrBusy) {
		t.Fatalf("a wrong password must be hashed, not answered from the cache: %v", err)
	}
	hold()

	// quire user passwd: the stored hash changes.
	me.PasswordHash = mustHash(t, "new")
	us.set("me@x.test", &me)
	if _, err := a.Login(ctx, "me@x.test", "secret", "10.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("old password after passwd: %v", err)
	}
	if _, err := a.Login(ctx, "me@x.test", "new", "10.0.0.1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// quire user del: the lookup fails before the cache is believed.
	us.set("me@x.test", nil)
	if _, err := a.Login(ctx, "me@x.test", "new", "10.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("deleted user: %v", err)
	}
	// Expiry: the same user again, past the TTL, is hashed again.
	us.set("me@x.test", &me)
	if _, err := a.Login(ctx, "me@x.test", "new", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(time.Minute)
	hold, _ = b.Acquire(ctx, b.Size())
	defer hold()
	a.hashWait = time.Millisecond
	if _, err := a.Login(ctx, "me@x.test", "new", "10.0.0.1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("after the TTL the password must be hashed again: %v", err)
	}
}

// blockingUsers holds every lookup until n have arrived, so that n logins
// are in flight at once.
type blockingUsers struct {
	Users
	arrived sync.WaitGroup
}

func (b *blockingUsers) User(ctx context.Context, a string) (store.User, error) {
	b.arrived.Done()
	b.arrived.Wait()
	return b.Users.User(ctx, a)
}

// TestConcurrentFailuresDelayed: logins in flight at once count as
// failures before their hash is checked, so a burst from one address is
// delayed as a sequence of failures would be.
func TestConcurrentFailuresDelayed(t *testing.T) {
	const n = 8
	us := &blockingUsers{Users: &mutableUsers{m: map[string]store.User{"me@x.test": {ID: "1", PasswordHash: "{PLAIN}secret"}}}}
	us.arrived.Add(n)
	g := NewGuard(GuardOptions{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: time.Hour})
	a := NewAuthenticatorWith(us, g, DefaultAuthOptions(), nil)
	var mu sync.Mutex
	var delayed int
	a.sleep = func(context.Context, time.Duration) error { mu.Lock(); delayed++; mu.Unlock(); return nil }
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Guesses differ, as in a real burst (the same guess at once
			// would wait for one check: TestConcurrentLoginsCoalesce).
			if _, err := a.Login(context.Background(), "me@x.test", fmt.Sprintf("wrong%d", i), "10.0.0.9"); !errors.Is(err, mail.ErrAuthFailed) {
				t.Errorf("login %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	if delayed != n-2 {
		t.Fatalf("%d of %d concurrent failures delayed, want all but the 2 free ones", delayed, n)
	}
}

// TestConcurrentUsersOneAddress: many users logging in at once from one
// shared address that has not failed (a NAT, a webmail host) are not
// delayed by each other.
func TestConcurrentUsersOneAddress(t *testing.T) {
	const n = 8
	m := map[string]store.User{}
	for i := range n {
		a := string(rune('a'+i)) + "@x.test"
		m[a] = store.User{ID: a, PasswordHash: "{PLAIN}secret"}
	}
	us := &blockingUsers{Users: &mutableUsers{m: m}}
	us.arrived.Add(n)
	a := NewAuthenticatorWith(us, NewGuard(GuardOptions{FreeFailures: 2, BaseDelay: time.Second}), DefaultAuthOptions(), nil)
	a.sleep = func(context.Context, time.Duration) error { t.Error("a login was delayed"); return nil }
	var wg sync.WaitGroup
	for u := range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Login(context.Background(), u, "secret", "10.0.0.9"); err != nil {
				t.Errorf("%s: %v", u, err)
			}
		}()
	}
	wg.Wait()
}

// firstBlocks holds the first lookup until release is closed.
type firstBlocks struct {
	Users
	once    sync.Once
	release chan struct{}
}

func (f *firstBlocks) User(ctx context.Context, a string) (store.User, error) {
	f.once.Do(func() { <-f.release })
	return f.Users.User(ctx, a)
}

// TestConcurrentLoginsCoalesce: a client opening n connections at once
// with the right password pays one check: the other logins wait for it and
// are neither delayed as attempts nor hashed (the budget would refuse a
// second argon2id check here). Without the coalescing, the n-1 others count
// as attempts in flight and are delayed.
func TestConcurrentLoginsCoalesce(t *testing.T) {
	const n = 8
	hash := mustHash(t, "secret")
	us := &firstBlocks{Users: &mutableUsers{m: map[string]store.User{"me@x.test": {ID: "1", Address: "me@x.test", PasswordHash: hash}}}, release: make(chan struct{})}
	b := NewBudget(directory.VerifyMemory(hash)) // room for one check at a time
	g := NewGuard(GuardOptions{FreeFailures: 1, BaseDelay: time.Hour, MaxDelay: time.Hour})
	a := NewAuthenticatorWith(us, g, AuthOptions{Budget: b, HashWait: 5 * time.Second, CacheTTL: time.Minute, CacheEntries: 10}, nil)
	a.sleep = func(context.Context, time.Duration) error { t.Error("a login was delayed"); return nil }
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Login(context.Background(), "me@x.test", "secret", "10.0.0.9"); err != nil {
				t.Errorf("login %d: %v", i, err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for a.cache.coalesced.Load() < n-1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := a.cache.coalesced.Load(); got != n-1 {
		t.Errorf("%d logins waited for the first one's check, want %d", got, n-1)
	}
	close(us.release)
	wg.Wait()
}
