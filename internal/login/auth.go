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

// ErrBusy reports a login refused because the password-check memory budget
// stayed full for AuthOptions.HashWait. Login wraps it in
// mail.ErrUnavailable: the client may retry, its password was not judged.
var ErrBusy = errors.New("login: too many password checks at once")

// AuthOptions tune an Authenticator; DefaultAuthOptions gives the values
// of the configuration's defaults.
type AuthOptions struct {
	// Budget bounds the memory of password checks running at once
	// (login.hash_memory); it may be shared. nil: DefaultHashMemory.
	Budget *Budget
	// HashWait is how long a check waits for Budget before the login is
	// refused with ErrBusy (login.hash_wait).
	HashWait time.Duration
	// CacheTTL is how long a successful check is remembered
	// (login.cache_ttl); 0 turns the cache off.
	CacheTTL time.Duration
	// CacheEntries bounds the cache (login.cache_entries); 0 turns it off.
	CacheEntries int
	Now          func() time.Time // default time.Now
}

// DefaultHashMemory is login.hash_memory's default: four argon2id checks
// at Quire's parameters.
const DefaultHashMemory = 256 << 20

// DefaultAuthOptions returns the defaults of the login.* keys.
func DefaultAuthOptions() AuthOptions {
	return AuthOptions{HashWait: 5 * time.Second, CacheTTL: 5 * time.Minute, CacheEntries: 10000}
}

// Authenticator checks user names and passwords. It is safe for concurrent use.
type Authenticator struct {
	users    Users
	guard    *Guard
	budget   *Budget
	hashWait time.Duration
	cache    *verifiedCache // nil: no cache
	log      *slog.Logger
	dummy    string // a hash no password matches, for missing users
	sleep    func(context.Context, time.Duration) error
}

// NewAuthenticator returns an Authenticator over users with
// DefaultAuthOptions. guard may be shared by several Authenticators (one
// per protocol); log may be nil.
func NewAuthenticator(users Users, guard *Guard, log *slog.Logger) *Authenticator {
	return NewAuthenticatorWith(users, guard, DefaultAuthOptions(), log)
}

// NewAuthenticatorWith is NewAuthenticator with opts.
func NewAuthenticatorWith(users Users, guard *Guard, opts AuthOptions, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Budget == nil {
		opts.Budget = NewBudget(DefaultHashMemory)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	dummy, err := directory.HashPassword("quire dummy password, never a user's")
	if err != nil {
		panic(err) // cannot happen: the password is not empty
	}
	return &Authenticator{
		users: users, guard: guard, budget: opts.Budget, hashWait: max(opts.HashWait, 0),
		cache: newVerifiedCache(opts.CacheTTL, opts.CacheEntries, opts.Now),
		log:   log, dummy: dummy, sleep: sleepCtx,
	}
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
// wrapping mail.ErrUnavailable (and ErrBusy when the hash budget stayed
// full).
//
// The order matters: a password verified within the cache's TTL against
// the user's current hash is accepted without delay or hashing; a login
// whose (user, password) another login is checking right now waits for
// that check and takes its success from the cache. Otherwise
// the attempt is registered with the Guard before anything else
// (Guard.Attempt), so concurrent guesses delay each other; it waits out the
// delay, looks the user up, and verifies within the memory budget.
func (a *Authenticator) Login(ctx context.Context, username, password, addr string) (store.User, error) {
	canon, err := store.CanonicalAddress(username)
	if err != nil {
		canon = username // still counted and delayed like any other name
	}
	if u, ok := a.cached(ctx, canon, password); ok {
		return u, nil
	}
	if wait, land := a.cache.takeoff(canon, password); wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return store.User{}, ctx.Err()
		}
		if u, ok := a.cached(ctx, canon, password); ok {
			return u, nil
		}
		// The check it waited for failed: this one goes the full way,
		// counted and delayed like any other.
	} else {
		defer land()
	}
	if d := a.guard.Attempt(canon, addr); d > 0 {
		if err := a.sleep(ctx, d); err != nil {
			a.guard.Abandoned(canon, addr)
			return store.User{}, err
		}
	}
	u, err := a.users.User(ctx, canon)
	hash := u.PasswordHash
	switch {
	case errors.Is(err, mail.ErrNoSuchUser), err == nil && hash == "":
		hash = a.dummy
	case err != nil:
		a.guard.Abandoned(canon, addr)
		return store.User{}, mail.Unavailable("login: look up user", err)
	}
	ok, err := a.verify(ctx, canon, hash, password)
	if err != nil {
		a.guard.Abandoned(canon, addr)
		return store.User{}, err
	}
	if !ok || hash == a.dummy {
		a.guard.Failed(canon, addr)
		return store.User{}, mail.ErrAuthFailed
	}
	a.cache.put(canon, password, hash)
	a.guard.Passed(canon, addr)
	return u, nil
}

// cached returns the user when password was verified within the cache's
// TTL against the user's current hash; a changed, deleted or unreachable
// user goes the full way.
func (a *Authenticator) cached(ctx context.Context, canon, password string) (store.User, bool) {
	if !a.cache.live(canon, password) {
		return store.User{}, false
	}
	u, err := a.users.User(ctx, canon)
	if err != nil || u.PasswordHash == "" || !a.cache.hit(canon, password, u.PasswordHash) {
		return store.User{}, false
	}
	a.guard.Succeeded(canon)
	return u, true
}

// verify checks password against hash within the memory budget. Its error
// is ErrBusy (wrapped in mail.ErrUnavailable) or ctx's; an unusable hash is
// logged and does not match.
func (a *Authenticator) verify(ctx context.Context, user, hash, password string) (bool, error) {
	need := directory.VerifyMemory(hash)
	if need > a.budget.Size() {
		a.log.Warn("login: password hash needs more memory than login.hash_memory; it is checked alone, with the whole budget",
			"user", user, "need", need, "login.hash_memory", a.budget.Size())
	}
	wctx, cancel := context.WithTimeout(ctx, a.hashWait)
	release, err := a.budget.Acquire(wctx, need)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, mail.Unavailable("login: wait for password-check memory",
			fmt.Errorf("%w: login.hash_memory (%d bytes) stayed in use for login.hash_wait (%v)", ErrBusy, a.budget.Size(), a.hashWait))
	}
	defer release()
	ok, verr := directory.VerifyPassword(hash, password)
	if verr != nil {
		a.log.Warn("login: stored password hash unusable", "user", user, "err", verr)
	}
	return ok && verr == nil, nil
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
