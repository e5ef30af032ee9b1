package login

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestGuardGrowsAndCaps(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := NewGuard(GuardOptions{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 5 * time.Second, Now: c.now})
	want := []time.Duration{0, 0, time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if d := g.Attempt("u", "1.2.3.4"); d != w {
			t.Fatalf("after %d failures: delay %v, want %v", i, d, w)
		}
		g.Failed("u", "1.2.3.4")
	}
	// Another user from the same address is delayed too; success forgets
	// the user but not the address.
	if d := g.Attempt("other", "1.2.3.4"); d != 5*time.Second {
		t.Fatalf("other user, same address: %v", d)
	}
	g.Passed("other", "1.2.3.4")
	g.Succeeded("u")
	if d := g.Attempt("u", "5.6.7.8"); d != 0 {
		t.Fatalf("after success from a new address: %v", d)
	}
	g.Abandoned("u", "5.6.7.8")
	c.t = c.t.Add(time.Hour)
	if d := g.Attempt("x", "1.2.3.4"); d != 0 {
		t.Fatalf("after an hour: %v", d)
	}
}

// TestGuardInFlight: attempts under way count as failures for their user
// always, and for their address once it has failed; Abandoned counts
// nothing, Passed keeps the address's failures.
func TestGuardInFlight(t *testing.T) {
	g := NewGuard(GuardOptions{FreeFailures: 1, BaseDelay: time.Second, MaxDelay: time.Hour})
	check := func(what string, got, want time.Duration) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: delay %v, want %v", what, got, want)
		}
	}
	check("u, first", g.Attempt("u", "a1"), 0)
	check("u, second at once", g.Attempt("u", "a2"), time.Second)
	g.Failed("u", "a1")
	g.Failed("u", "a2")

	// Many users at once from a shared address that never failed.
	for _, v := range []string{"v1", "v2", "v3"} {
		check(v+" from a NAT", g.Attempt(v, "nat"), 0)
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		g.Passed(v, "nat")
	}

	// Once the address failed, its attempts under way count too.
	check("w1", g.Attempt("w1", "bad"), 0)
	g.Failed("w1", "bad")
	check("w2", g.Attempt("w2", "bad"), time.Second)
	check("w3 beside w2", g.Attempt("w3", "bad"), 2*time.Second)
	g.Abandoned("w2", "bad")
	g.Abandoned("w3", "bad")
	check("w4 after two abandoned", g.Attempt("w4", "bad"), time.Second)
	g.Passed("w4", "bad")
	check("w5 after a pass", g.Attempt("w5", "bad"), time.Second)
}

func TestGuardBounded(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	g := NewGuard(GuardOptions{MaxEntries: 100, Now: c.now})
	for i := range 1000 {
		c.t = c.t.Add(time.Millisecond)
		u := "user" + string(rune('a'+i%26)) + string(rune('0'+i/26))
		g.Attempt(u, "10.0.0.1")
		g.Failed(u, "10.0.0.1")
	}
	if n := len(g.mu.m); n > 100 {
		t.Fatalf("guard holds %d entries, max 100", n)
	}
	// The busiest key, the address, was failed last and is kept.
	if g.Attempt("nobody", "10.0.0.1") == 0 {
		t.Fatal("the newest entry was evicted")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter(2)
	r1, ok1 := l.Acquire("a")
	_, ok2 := l.Acquire("a")
	_, ok3 := l.Acquire("a")
	if !ok1 || !ok2 || ok3 {
		t.Fatalf("acquire: %v %v %v", ok1, ok2, ok3)
	}
	r1()
	r1() // twice is harmless
	if _, ok := l.Acquire("a"); !ok {
		t.Fatal("slot not released")
	}
	if _, ok := l.Acquire("a"); ok {
		t.Fatal("double release freed two slots")
	}
	if _, ok := NewLimiter(0).Acquire("a"); !ok {
		t.Fatal("zero limit should allow")
	}
}

type users map[string]store.User

func (u users) User(_ context.Context, a string) (store.User, error) {
	if a == "down@x.test" {
		return store.User{}, mail.Unavailable("test", errors.New("node down"))
	}
	if x, ok := u[a]; ok {
		return x, nil
	}
	return store.User{}, mail.ErrNoSuchUser
}

func TestAuthenticator(t *testing.T) {
	h, err := directory.HashPassword("secret")
	if err != nil {
		t.Fatal(err)
	}
	us := users{"me@x.test": {ID: "1", Address: "me@x.test", PasswordHash: h}, "nohash@x.test": {ID: "2"}}
	g := NewGuard(GuardOptions{FreeFailures: 1, BaseDelay: time.Second})
	a := NewAuthenticator(us, g, nil)
	var slept []time.Duration
	a.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	ctx := context.Background()

	if u, err := a.Login(ctx, "Me+tag@X.test", "secret", "127.0.0.1"); err != nil || u.ID != "1" {
		t.Fatalf("good login: %v %v", u, err)
	}
	for _, c := range []struct{ user, pw string }{{"me@x.test", "wrong"}, {"ghost@x.test", "secret"}, {"nohash@x.test", ""}, {"not an address", "x"}} {
		if _, err := a.Login(ctx, c.user, c.pw, "127.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
			t.Fatalf("%s/%s: %v, want ErrAuthFailed", c.user, c.pw, err)
		}
	}
	if len(slept) == 0 {
		t.Fatal("no delay after repeated failures")
	}
	if _, err := a.Login(ctx, "down@x.test", "x", "127.0.0.2"); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("store down: %v", err)
	}
}

func TestParsePlain(t *testing.T) {
	for _, c := range []struct {
		in              string
		authz, user, pw string
		ok              bool
	}{
		{"\x00me@x.test\x00pw", "", "me@x.test", "pw", true},
		{"me@x.test\x00me@x.test\x00pw", "me@x.test", "me@x.test", "pw", true},
		{"other@x.test\x00me@x.test\x00pw", "other@x.test", "me@x.test", "pw", true},
		{"\x00\x00pw", "", "", "", false},
		{"nonul", "", "", "", false},
		{"\x00a\x00b\x00c", "", "", "", false},
	} {
		az, u, p, err := ParsePlain([]byte(c.in))
		if (err == nil) != c.ok || az != c.authz || u != c.user || p != c.pw {
			t.Errorf("ParsePlain(%q) = %q %q %q %v", c.in, az, u, p, err)
		}
	}
}

func FuzzParsePlain(f *testing.F) {
	f.Add([]byte("\x00me@x.test\x00pw"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, u, _, err := ParsePlain(b)
		if err == nil && u == "" {
			t.Fatal("empty authcid accepted")
		}
	})
}

// TestLimiterSetMax: a bound set while sessions are open (a reload)
// counts them, also those taken while there was no bound: raised, the key
// gets more; lowered, it keeps what it holds and gets no new one until
// enough end.
func TestLimiterSetMax(t *testing.T) {
	l := NewLimiter(0)
	var rel []func()
	for range 3 {
		r, ok := l.Acquire("a")
		if !ok {
			t.Fatal("refused without a bound")
		}
		rel = append(rel, r)
	}
	l.SetMax(3)
	if _, ok := l.Acquire("a"); ok {
		t.Fatal("a fourth session under a bound of 3 set after three opened without one")
	}
	if _, ok := l.Acquire("b"); !ok {
		t.Fatal("another key refused")
	}
	l.SetMax(4)
	r4, ok := l.Acquire("a")
	if !ok {
		t.Fatal("a fourth session refused after the bound was raised to 4")
	}
	l.SetMax(2)
	rel[0]()
	rel[1]()
	if _, ok := l.Acquire("a"); ok {
		t.Fatal("a session over the lowered bound of 2 with two still open")
	}
	r4()
	if _, ok := l.Acquire("a"); !ok {
		t.Fatal("refused with one open under a bound of 2")
	}
}
