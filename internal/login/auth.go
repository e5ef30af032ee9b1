package login

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Users looks users up; *store.Store implements it.
type Users interface {
	User(ctx context.Context, address string) (store.User, error)
}

// Authenticator checks user names and passwords. It is safe for concurrent use.
type Authenticator struct {
	users Users
	guard *Guard
	log   *slog.Logger
	dummy string // a hash no password matches, for missing users
	sleep func(context.Context, time.Duration) error
}

// NewAuthenticator returns an Authenticator over users. guard may be shared
// by several Authenticators (one per protocol); log may be nil.
func NewAuthenticator(users Users, guard *Guard, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dummy, err := directory.HashPassword("quire dummy password, never a user's")
	if err != nil {
		panic(err) // cannot happen: the password is not empty
	}
	return &Authenticator{users: users, guard: guard, log: log, dummy: dummy, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Login checks username and password for a client at addr (an IP address,
// without port). It returns the user, mail.ErrAuthFailed, or an error
// wrapping mail.ErrUnavailable. It first waits out the Guard's delay.
func (a *Authenticator) Login(ctx context.Context, username, password, addr string) (store.User, error) {
	canon, err := store.CanonicalAddress(username)
	if err != nil {
		canon = username // still counted and delayed like any other name
	}
	if d := a.guard.Delay(canon, addr); d > 0 {
		if err := a.sleep(ctx, d); err != nil {
			return store.User{}, err
		}
	}
	u, err := a.users.User(ctx, canon)
	hash := u.PasswordHash
	switch {
	case errors.Is(err, mail.ErrNoSuchUser), err == nil && hash == "":
		hash = a.dummy
	case err != nil && !errors.Is(err, mail.ErrNoSuchUser):
		return store.User{}, mail.Unavailable("login: look up user", err)
	}
	ok, verr := directory.VerifyPassword(hash, password)
	if verr != nil {
		a.log.Warn("login: stored password hash unusable", "user", canon, "err", verr)
	}
	if err != nil || !ok || hash == a.dummy {
		a.guard.Failed(canon, addr)
		return store.User{}, mail.ErrAuthFailed
	}
	a.guard.Succeeded(canon)
	return u, nil
}

// ParsePlain decodes a SASL PLAIN message (RFC 4616 2): authzid NUL authcid
// NUL passwd. An authzid naming someone other than authcid is refused:
// Quire has no proxy authorization.
func ParsePlain(msg []byte) (authcid, passwd string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", errors.New("malformed PLAIN message: want authzid NUL authcid NUL password")
	}
	authz, authc := string(parts[0]), string(parts[1])
	if authz != "" && authz != authc {
		ca, e1 := store.CanonicalAddress(authz)
		cc, e2 := store.CanonicalAddress(authc)
		if e1 != nil || e2 != nil || ca != cc {
			return "", "", fmt.Errorf("authorization identity %q differs from %q: proxy authorization is not supported", authz, authc)
		}
	}
	return authc, string(parts[2]), nil
}
