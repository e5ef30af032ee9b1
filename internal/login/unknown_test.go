package login

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
)

// countingVerifier records the hashes passwords were checked against.
type countingVerifier struct {
	mu     sync.Mutex
	hashes []string
}

func (c *countingVerifier) verify(hash, pw string) (bool, error) {
	c.mu.Lock()
	c.hashes = append(c.hashes, hash)
	c.mu.Unlock()
	return directory.VerifyPassword(hash, pw)
}

// take returns the hashes checked since the last take.
func (c *countingVerifier) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hashes
	c.hashes = nil
	return h
}

// scheme is a hash's scheme: its {PREFIX} or $id$.
func scheme(h string) string {
	if strings.HasPrefix(h, "{") {
		return h[:strings.IndexByte(h, '}')+1]
	}
	parts := strings.SplitN(h, "$", 3)
	return "$" + parts[1] + "$"
}

// TestUnknownUserSameCheck: a login of an unknown address runs one hash
// check, as a wrong password does, against a hash of the scheme the
// users' hashes have (here an imported {SHA512-CRYPT}, not Quire's
// argon2id), and so does CheckUnknown, the front-end proxy's.
func TestUnknownUserSameCheck(t *testing.T) {
	// "secret" by Dovecot's doveadm pw -s SHA512-CRYPT (package
	// directory's test vectors).
	const hash = "{SHA512-CRYPT}$6$ZcEqt0neCML0u7Qb$eS606c1s89LmBDh5x32HSeXNso3Nulbww3KxEuumv7xPO/yquGrjIJcJMY4HMLvdY5FC9gkKkz/h.lqH/agD4/"
	us := users{"me@x.test": {ID: "1", Address: "me@x.test", PasswordHash: hash}}
	a := NewAuthenticator(us, NewGuard(GuardOptions{FreeFailures: 100}), nil)
	cv := &countingVerifier{}
	a.verifyHash = cv.verify
	ctx := context.Background()

	// Before any user was looked up, the dummy is Quire's own scheme.
	if err := a.CheckUnknown(ctx, "ghost@x.test", "guess"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("CheckUnknown: %v, want ErrAuthFailed", err)
	}
	if got := cv.take(); len(got) != 1 || scheme(got[0]) != "$argon2id$" {
		t.Fatalf("CheckUnknown before any lookup checked %d hashes %v, want one $argon2id$", len(got), schemes(got))
	}
	if _, err := a.Login(ctx, "me@x.test", "wrong", "127.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("wrong password: %v", err)
	}
	wrong := cv.take()
	if len(wrong) != 1 || wrong[0] != hash {
		t.Fatalf("wrong password checked %d hashes %v, want the user's", len(wrong), schemes(wrong))
	}
	if _, err := a.Login(ctx, "ghost@x.test", "secret", "127.0.0.1"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("unknown user: %v", err)
	}
	if got := cv.take(); len(got) != 1 || scheme(got[0]) != "{SHA512-CRYPT}" {
		t.Fatalf("unknown user checked %d hashes %v, want one {SHA512-CRYPT} as for the wrong password", len(got), schemes(got))
	}
	if err := a.CheckUnknown(ctx, "ghost@x.test", "secret"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("CheckUnknown: %v, want ErrAuthFailed (even with a password the dummy matches)", err)
	}
	if got := cv.take(); len(got) != 1 || scheme(got[0]) != "{SHA512-CRYPT}" {
		t.Fatalf("CheckUnknown checked %d hashes %v, want one {SHA512-CRYPT}", len(got), schemes(got))
	}
	// Seen (the proxy's lookups) moves the dummy too.
	a.Seen(directory.Entry{Address: "x@x.test", PasswordHash: mustHash(t, "p")})
	_ = a.CheckUnknown(ctx, "ghost@x.test", "p")
	if got := cv.take(); len(got) != 1 || scheme(got[0]) != "$argon2id$" {
		t.Fatalf("after Seen: %v, want one $argon2id$", schemes(got))
	}
	if s := a.Stats(); s.Failed != 5 {
		t.Fatalf("failed logins counted %d, want 5", s.Failed)
	}
}

func schemes(hs []string) []string {
	var out []string
	for _, h := range hs {
		out = append(out, scheme(h))
	}
	return out
}
