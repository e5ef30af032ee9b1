package imapserver

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// TestLoginBusyUnavailable: while the password-check memory budget is
// held past login.hash_wait, LOGIN and AUTHENTICATE answer NO [UNAVAILABLE]
// (RFC 5530 3: temporary), not AUTHENTICATIONFAILED; once the budget is
// free the same credentials log in.
func TestLoginBusyUnavailable(t *testing.T) {
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
	budget := login.NewBudget(128 << 20)
	e := newEnv(t, st, hub, func(o *Options) {
		g := login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond})
		o.Auth = login.NewAuthenticatorWith(st, g, login.AuthOptions{Budget: budget, HashWait: 50 * time.Millisecond}, o.Logger)
	})
	hash, err := directory.HashPassword(e.pass) // argon2id: 64 MiB per check
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
	const busy = "NO [UNAVAILABLE] Too many logins at once; try again shortly"
	c := e.dial()
	if got := c.do("LOGIN %s %s", quoteArg(e.user.Address), e.pass); got != busy {
		t.Fatalf("LOGIN with the budget full: %q, want %q", got, busy)
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + e.user.Address + "\x00" + e.pass))
	if got := c.do("AUTHENTICATE PLAIN %s", plain); got != busy {
		t.Fatalf("AUTHENTICATE with the budget full: %q, want %q", got, busy)
	}
	if len(c.Last) != 0 {
		t.Fatalf("untagged responses to a refused login: %q", c.Last)
	}
	release()
	c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
}
