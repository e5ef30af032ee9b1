package login

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// bindAccounts is an external directory that verifies by bind, as LDAP
// does: its entries have no PasswordHash.
type bindAccounts struct {
	mu      sync.Mutex
	entries map[string]directory.Entry // by every address and alias
	pw      map[string]string          // canonical address -> password
	admins  map[string]bool
	binds   int
	bindErr error
}

func (b *bindAccounts) Lookup(_ context.Context, a string) (directory.Entry, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.entries[a]; ok {
		return e, nil
	}
	return directory.Entry{}, mail.ErrNoSuchUser
}

func (b *bindAccounts) Bind(_ context.Context, e directory.Entry, pw string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.binds++
	if b.bindErr != nil {
		return false, b.bindErr
	}
	return pw != "" && b.pw[e.Address] == pw, nil
}

func (b *bindAccounts) ServiceAdmin(_ context.Context, e directory.Entry) (bool, error) {
	return b.admins[e.Address], nil
}

func (b *bindAccounts) Open(_ context.Context, e directory.Entry) (store.User, error) {
	return store.User{ID: "id-" + e.Address, Address: e.Address, MailHost: e.MailHost}, nil
}

func (b *bindAccounts) bindCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.binds
}

func newBindAccounts() *bindAccounts {
	alice := directory.Entry{Address: "alice@x.test", Aliases: []string{"al@x.test"}, MailHost: "g2", DN: "uid=alice", Credential: "uid=alice\x001", External: true}
	ops := directory.Entry{Address: "ops@x.test", DN: "uid=ops", Credential: "uid=ops\x001", External: true}
	sus := directory.Entry{Address: "sus@x.test", DN: "uid=sus", Credential: "uid=sus\x001", External: true, Status: directory.StatusSuspended}
	return &bindAccounts{
		entries: map[string]directory.Entry{"alice@x.test": alice, "al@x.test": alice, "ops@x.test": ops, "sus@x.test": sus},
		pw:      map[string]string{"alice@x.test": "a-pw", "ops@x.test": "o-pw", "sus@x.test": "s-pw"},
		admins:  map[string]bool{"ops@x.test": true},
	}
}

// TestBindLoginThrottled: passwords a directory verifies by bind go
// through the Guard as stored hashes do: failures delay the next attempt,
// and a directory that cannot be asked is UNAVAILABLE, not a failure.
func TestBindLoginThrottled(t *testing.T) {
	acc := newBindAccounts()
	g := NewGuard(GuardOptions{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: time.Hour})
	a := NewDirectoryAuthenticator(acc, g, DefaultAuthOptions(), nil)
	var delays []time.Duration
	a.sleep = func(_ context.Context, d time.Duration) error { delays = append(delays, d); return nil }
	ctx := context.Background()
	for range 4 {
		if _, err := a.Login(ctx, "alice@x.test", "wrong", "10.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if want := []time.Duration{time.Second, 2 * time.Second}; len(delays) != 2 || delays[0] != want[0] || delays[1] != want[1] {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	acc.bindErr = mail.Unavailable("ldap: bind", errors.New("connection refused"))
	if _, err := a.Login(ctx, "alice@x.test", "a-pw", "10.0.0.1"); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("directory down: %v; want ErrUnavailable", err)
	}
	acc.bindErr = nil
	u, err := a.Login(ctx, "al@x.test", "a-pw", "10.0.0.1")
	if err != nil || u.Address != "alice@x.test" || u.MailHost != "g2" {
		t.Fatalf("login by alias: %+v %v", u, err)
	}
	// The 4 failures plus the unavailable attempt were never counted as 5.
	if n := len(delays); n != 4 {
		t.Fatalf("%d delays; want 4 (2 after the failures, 1 before the outage, 1 before the success)", n)
	}
}

// TestBindLoginCache: a verification by bind is remembered against the
// entry's Credential: the next login binds no more, and a changed
// credential (the password changed in LDAP) binds again.
func TestBindLoginCache(t *testing.T) {
	acc := newBindAccounts()
	a := NewDirectoryAuthenticator(acc, NewGuard(GuardOptions{}), DefaultAuthOptions(), nil)
	ctx := context.Background()
	for range 3 {
		if _, err := a.Login(ctx, "alice@x.test", "a-pw", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := acc.bindCount(); n != 1 {
		t.Fatalf("%d binds for 3 logins; want 1", n)
	}
	acc.mu.Lock()
	e := acc.entries["alice@x.test"]
	e.Credential = "uid=alice\x002"
	acc.entries["alice@x.test"], acc.pw["alice@x.test"] = e, "new-pw"
	acc.mu.Unlock()
	if _, err := a.Login(ctx, "alice@x.test", "a-pw", "10.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("old password after a change: %v; want ErrAuthFailed", err)
	}
	if n := acc.bindCount(); n != 2 {
		t.Fatalf("%d binds; want 2 (the cache must not answer for a changed credential)", n)
	}
}

// TestLoginAs: SASL PLAIN's authorization identity opens another user's
// store only for a service administrator with the right password.
func TestLoginAs(t *testing.T) {
	acc := newBindAccounts()
	a := NewDirectoryAuthenticator(acc, NewGuard(GuardOptions{BaseDelay: time.Millisecond}), DefaultAuthOptions(), nil)
	ctx := context.Background()
	for _, c := range []struct {
		authz, authc, pw string
		want             string // the store opened; "" for ErrAuthFailed
	}{
		{"alice@x.test", "ops@x.test", "o-pw", "alice@x.test"},
		{"AL+x@x.test", "ops@x.test", "o-pw", "alice@x.test"},
		{"sus@x.test", "ops@x.test", "o-pw", "sus@x.test"}, // support may open a suspended store
		{"alice@x.test", "ops@x.test", "a-pw", ""},
		{"ops@x.test", "alice@x.test", "a-pw", ""},
		{"nobody@x.test", "ops@x.test", "o-pw", ""},
		{"not an address", "ops@x.test", "o-pw", ""},
		{"al@x.test", "alice@x.test", "a-pw", "alice@x.test"}, // her own alias
		{"", "sus@x.test", "s-pw", ""},                        // suspended: no login of its own
		{"alice@x.test", "sus@x.test", "s-pw", ""},
	} {
		u, err := a.LoginAs(ctx, c.authz, c.authc, c.pw, "10.0.0.2")
		if c.want == "" {
			if !errors.Is(err, mail.ErrAuthFailed) {
				t.Errorf("LoginAs(%q, %q): %+v %v; want ErrAuthFailed", c.authz, c.authc, u, err)
			}
			continue
		}
		if err != nil || u.Address != c.want {
			t.Errorf("LoginAs(%q, %q) = %+v %v; want %s's store", c.authz, c.authc, u, err, c.want)
		}
	}
}

// missingBindAccounts is a bind directory that names the entry unknown
// users are checked against.
type missingBindAccounts struct{ *bindAccounts }

func (m missingBindAccounts) MissingEntry() (directory.Entry, bool) {
	return directory.Entry{DN: "cn=no-such-user", External: true}, true
}

// TestBindLoginMissingUser: with a directory that binds, an unknown
// address costs a bind as a DN that does not exist (the time of a real
// login), not a local dummy hash, and fails even if that bind were to pass.
func TestBindLoginMissingUser(t *testing.T) {
	acc := missingBindAccounts{newBindAccounts()}
	acc.pw[""] = "guess" // a bind of the missing entry that "passes"
	a := NewDirectoryAuthenticator(acc, NewGuard(GuardOptions{}), DefaultAuthOptions(), nil)
	for _, pw := range []string{"guess", "other"} {
		if _, err := a.Login(context.Background(), "nobody@x.test", pw, "10.0.0.3"); !errors.Is(err, mail.ErrAuthFailed) {
			t.Fatalf("unknown user: %v; want ErrAuthFailed", err)
		}
	}
	if n := acc.bindCount(); n != 2 {
		t.Fatalf("%d binds for 2 unknown-user logins; want 2", n)
	}
}
