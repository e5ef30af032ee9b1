package pop3server

import (
	"context"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// TestLoginBusySysTemp: while the password-check memory budget is held
// past login.hash_wait, PASS answers -ERR [SYS/TEMP] (RFC 3206 4:
// temporary), not [AUTH]; once the budget is free the same PASS succeeds.
func TestLoginBusySysTemp(t *testing.T) {
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	budget := login.NewBudget(128 << 20)
	e := newEnv(t, st, func(o *Options) {
		g := login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond})
		o.Auth = login.NewAuthenticatorWith(st, g, login.AuthOptions{Budget: budget, HashWait: 50 * time.Millisecond}, o.Logger)
	})
	hash, err := directory.HashPassword("secret") // argon2id: 64 MiB per check
	if err != nil {
		t.Fatal(err)
	}
	u := e.user
	u.PasswordHash = hash
	if err := st.UpdateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	release, err := budget.Acquire(context.Background(), budget.Size())
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial()
	c.cmd("+OK", "USER %s", e.user.Address)
	const busy = "-ERR [SYS/TEMP] too many logins at once, try again shortly"
	if got := c.cmd("-ERR", "PASS secret"); got != busy {
		t.Fatalf("PASS with the budget full: %q, want %q", got, busy)
	}
	release()
	c.cmd("+OK", "USER %s", e.user.Address)
	c.cmd("+OK", "PASS secret")
}
