package login

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/directory/storedir"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Users looks users up; *store.Store implements it.
type Users interface {
	User(ctx context.Context, address string) (store.User, error)
}

// Accounts is where an Authenticator finds users and opens their
// stores: *account.Accounts (any directory) and *storedir.Dir (the
// store's users) implement it.
type Accounts interface {
	// Lookup finds the entry of an address (canonical or alias).
	Lookup(ctx context.Context, address string) (directory.Entry, error)
	// Bind verifies a password for an entry without PasswordHash.
	Bind(ctx context.Context, e directory.Entry, password string) (bool, error)
	// ServiceAdmin reports whether e may open other users' stores.
	ServiceAdmin(ctx context.Context, e directory.Entry) (bool, error)
	// Open returns e's store record.
	Open(ctx context.Context, e directory.Entry) (store.User, error)
}

// missingEntries is implemented by Accounts whose directory verifies by
// bind (*account.Accounts over LDAP): a login for an unknown address binds
// as MissingEntry, so it takes the time a real one does, as the dummy hash
// does for stored hashes.
type missingEntries interface {
	MissingEntry() (directory.Entry, bool)
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
	// Placement says which store affinity group this host serves and
	// whether users of others are referred; the zero value serves
	// everyone.
	Placement Placement
	Now       func() time.Time // default time.Now
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
	acc      Accounts
	guard    *Guard
	budget   *Budget
	hashWait time.Duration
	cache    *verifiedCache // nil: no cache
	place    Placement
	log      *slog.Logger
	// dummy is the stored hash a missing user's password is checked
	// against: the last one a lookup returned (a user's, so of the scheme
	// and cost the users' hashes have; the result is never used), or, until
	// one did, an argon2id hash of Quire's parameters.
	dummy atomic.Pointer[string]
	// verifyHash checks a password against a stored hash
	// (directory.VerifyPassword; tests count its calls).
	verifyHash func(hash, password string) (bool, error)
	sleep      func(context.Context, time.Duration) error
	stats      struct{ passed, cached, failed, delayed, busy atomic.Int64 }
}

// Stats are an Authenticator's counts since it started, for the metrics.
type Stats struct {
	Passed  int64 // logins whose password was checked (hash or directory bind) and matched
	Cached  int64 // logins accepted from the cache of verified passwords
	Failed  int64 // logins refused for a wrong password or an unknown user
	Delayed int64 // attempts that waited out a failed-login delay (throttled)
	Busy    int64 // logins refused because password checks stayed busy (ErrBusy)
	// HashWaiting is how many password checks wait for memory now.
	HashWaiting int
}

// Stats returns the counts; they are read one by one, not at one instant.
func (a *Authenticator) Stats() Stats {
	return Stats{
		Passed: a.stats.passed.Load(), Cached: a.stats.cached.Load(), Failed: a.stats.failed.Load(),
		Delayed: a.stats.delayed.Load(), Busy: a.stats.busy.Load(), HashWaiting: a.budget.Waiting(),
	}
}

// NewAuthenticator returns an Authenticator over the store's users with
// DefaultAuthOptions. guard may be shared by several Authenticators (one
// per protocol); log may be nil.
func NewAuthenticator(users Users, guard *Guard, log *slog.Logger) *Authenticator {
	return NewAuthenticatorWith(users, guard, DefaultAuthOptions(), log)
}

// NewAuthenticatorWith is NewAuthenticator with opts.
func NewAuthenticatorWith(users Users, guard *Guard, opts AuthOptions, log *slog.Logger) *Authenticator {
	return NewDirectoryAuthenticator(storedir.New(users), guard, opts, log)
}

// NewDirectoryAuthenticator returns an Authenticator over acc (a
// directory bound to the store) with opts.
func NewDirectoryAuthenticator(acc Accounts, guard *Guard, opts AuthOptions, log *slog.Logger) *Authenticator {
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
	a := &Authenticator{
		acc: acc, guard: guard, budget: opts.Budget, hashWait: max(opts.HashWait, 0),
		cache: newVerifiedCache(opts.CacheTTL, opts.CacheEntries, opts.Now), place: opts.Placement,
		log: log, verifyHash: directory.VerifyPassword, sleep: Sleep,
	}
	a.dummy.Store(&dummy)
	return a
}

// Sleep waits d or until ctx ends, and then returns ctx's error: the
// failed-login delay, for the Authenticator and the front-end proxy.
func Sleep(ctx context.Context, d time.Duration) error {
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
func (a *Authenticator) Login(ctx context.Context, username, password, addr string) (store.User, error) {
	return a.LoginAs(ctx, "", username, password, addr)
}

// LoginAs is Login with a SASL authorization identity (RFC 4616 2):
// username authenticates with password, and when authzid names another
// user, username must be a service administrator (Accounts.ServiceAdmin),
// and the store returned is authzid's. The authenticating account must be
// active; an administrator may open a suspended or locked user's store
// (support, migration). A user another store affinity group serves is
// refused with a *WrongGroupError after the password was checked, when
// AuthOptions.Placement says to refer them.
func (a *Authenticator) LoginAs(ctx context.Context, authzid, username, password, addr string) (store.User, error) {
	target, err := a.Verify(ctx, authzid, username, password, addr)
	if err != nil {
		return store.User{}, err
	}
	if err := a.place.check(target); err != nil {
		a.log.Info("login: user of another store affinity group referred", "user", target.Address, "group", err.Group)
		return store.User{}, err
	}
	u, err := a.acc.Open(ctx, target)
	if err != nil {
		if errors.Is(err, mail.ErrNoSuchUser) {
			return store.User{}, mail.ErrAuthFailed
		}
		return store.User{}, mail.Unavailable("login: open the user's store", err)
	}
	return u, nil
}

// Verify is LoginAs without opening the store: it returns the directory
// entry of the user whose store the login opens (authzid's, for a service
// administrator), for the front-end proxy, which routes by its mailHost
// and holds no mail. Its errors are LoginAs's.
func (a *Authenticator) Verify(ctx context.Context, authzid, username, password, addr string) (directory.Entry, error) {
	e, err := a.authenticate(ctx, username, password, addr)
	if err != nil {
		return directory.Entry{}, err
	}
	target := e
	if authzid != "" {
		az, err := store.CanonicalAddress(authzid)
		if err != nil {
			return directory.Entry{}, mail.ErrAuthFailed
		}
		if az != e.Address && !slices.Contains(e.Aliases, az) {
			if target, err = a.impersonate(ctx, e, az); err != nil {
				return directory.Entry{}, err
			}
		}
	}
	if e.Status != directory.StatusActive {
		a.log.Info("login: account is not active", "user", e.Address, "status", e.Status.String())
		return directory.Entry{}, mail.ErrAuthFailed
	}
	return target, nil
}

// impersonate returns the entry of az for the authenticated admin, after
// checking that admin is a service administrator.
func (a *Authenticator) impersonate(ctx context.Context, admin directory.Entry, az string) (directory.Entry, error) {
	ok, err := a.acc.ServiceAdmin(ctx, admin)
	if err != nil {
		return directory.Entry{}, mail.Unavailable("login: check service administrators", err)
	}
	if !ok {
		a.log.Warn("login: authorization identity refused: not a service administrator", "user", admin.Address, "authzid", az)
		return directory.Entry{}, mail.ErrAuthFailed
	}
	t, err := a.acc.Lookup(ctx, az)
	switch {
	case errors.Is(err, mail.ErrNoSuchUser):
		a.log.Info("login: service administrator asked for an unknown user", "user", admin.Address, "authzid", az)
		return directory.Entry{}, mail.ErrAuthFailed
	case err != nil:
		return directory.Entry{}, mail.Unavailable("login: look up the authorization identity", err)
	}
	a.log.Info("login: service administrator opens another user's store", "user", admin.Address, "authzid", t.Address)
	return t, nil
}

// authenticate checks username and password and returns the user's
// directory entry.
//
// The order matters: a password verified within the cache's TTL against
// the user's current credential is accepted without delay or hashing; a
// login whose (user, password) another login is checking right now waits
// for that check and takes its success from the cache. Otherwise the
// attempt is registered with the Guard before anything else
// (Guard.Attempt), so concurrent guesses delay each other; it waits out the
// delay, looks the user up, and verifies: a stored hash within the memory
// budget, a directory's password by the directory (an LDAP bind, bounded
// by its connection pool).
func (a *Authenticator) authenticate(ctx context.Context, username, password, addr string) (directory.Entry, error) {
	canon, err := store.CanonicalAddress(username)
	if err != nil {
		canon = username // still counted and delayed like any other name
	}
	if e, ok := a.cached(ctx, canon, password); ok {
		a.stats.cached.Add(1)
		return e, nil
	}
	if wait, land := a.cache.takeoff(canon, password); wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return directory.Entry{}, ctx.Err()
		}
		if e, ok := a.cached(ctx, canon, password); ok {
			a.stats.cached.Add(1)
			return e, nil
		}
		// The check it waited for failed: this one goes the full way,
		// counted and delayed like any other.
	} else {
		defer land()
	}
	if d := a.guard.Attempt(canon, addr); d > 0 {
		a.stats.delayed.Add(1)
		if err := a.sleep(ctx, d); err != nil {
			a.guard.Abandoned(canon, addr)
			return directory.Entry{}, err
		}
	}
	e, err := a.acc.Lookup(ctx, canon)
	dummy := false
	switch {
	case errors.Is(err, mail.ErrNoSuchUser), err == nil && e.PasswordHash == "" && !e.External:
		e, dummy = a.missing(), true
	case err != nil:
		a.guard.Abandoned(canon, addr)
		return directory.Entry{}, mail.Unavailable("login: look up user", err)
	default:
		a.Seen(e)
	}
	ok, err := a.check(ctx, canon, e, password)
	if err != nil {
		a.guard.Abandoned(canon, addr)
		if errors.Is(err, ErrBusy) {
			a.stats.busy.Add(1)
		}
		return directory.Entry{}, err
	}
	if !ok || dummy {
		a.guard.Failed(canon, addr)
		a.stats.failed.Add(1)
		return directory.Entry{}, mail.ErrAuthFailed
	}
	a.cache.put(canon, password, e.Credential)
	a.guard.Passed(canon, addr)
	a.stats.passed.Add(1)
	return e, nil
}

// check verifies password for e: its stored hash within the memory
// budget, or a bind by the directory.
func (a *Authenticator) check(ctx context.Context, canon string, e directory.Entry, password string) (bool, error) {
	if e.PasswordHash != "" {
		return a.verify(ctx, canon, e.PasswordHash, password)
	}
	return a.acc.Bind(ctx, e, password)
}

// missing returns the entry an unknown user's password is checked
// against: a bind as a DN that does not exist when the directory binds,
// else the dummy hash.
func (a *Authenticator) missing() directory.Entry {
	if m, ok := a.acc.(missingEntries); ok {
		if e, ok := m.MissingEntry(); ok {
			return e
		}
	}
	return directory.Entry{PasswordHash: *a.dummy.Load()}
}

// Seen tells the Authenticator of an entry the directory returned: its
// stored hash, if any, becomes the dummy an unknown user's password is
// checked against, so that a missing user costs what the users' own
// hashes cost (an imported {SHA512-CRYPT} as much as an argon2id of
// "quire user add").
func (a *Authenticator) Seen(e directory.Entry) {
	if h := e.PasswordHash; h != "" && h != *a.dummy.Load() {
		a.dummy.Store(&h)
	}
}

// CheckUnknown runs, for a login of an address the directory does not
// know, the check a known user's password gets (against the dummy hash,
// or a bind as a DN that does not exist), and returns mail.ErrAuthFailed,
// or the check's error (ErrBusy wrapped in mail.ErrUnavailable, ctx's).
// It is for the front-end proxy with proxy.login = "user", which checks
// no password itself (the access host does) but answers an unknown user
// at once: the answer must take the time a wrong password takes. The
// caller throttles (Guard) and tells Seen of the entries it looks up.
func (a *Authenticator) CheckUnknown(ctx context.Context, username, password string) error {
	if _, err := a.check(ctx, username, a.missing(), password); err != nil {
		return err
	}
	a.stats.failed.Add(1)
	return mail.ErrAuthFailed
}

// cached returns the user's entry when password was verified within the
// cache's TTL against the user's current credential; a changed, deleted or
// unreachable user goes the full way.
func (a *Authenticator) cached(ctx context.Context, canon, password string) (directory.Entry, bool) {
	if !a.cache.live(canon, password) {
		return directory.Entry{}, false
	}
	e, err := a.acc.Lookup(ctx, canon)
	if err != nil || e.Credential == "" || !a.cache.hit(canon, password, e.Credential) {
		return directory.Entry{}, false
	}
	a.guard.Succeeded(canon)
	return e, true
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
	ok, verr := a.verifyHash(hash, password)
	if verr != nil {
		a.log.Warn("login: stored password hash unusable", "user", user, "err", verr)
	}
	return ok && verr == nil, nil
}

// ParsePlain decodes a SASL PLAIN message (RFC 4616 2): authzid NUL authcid
// NUL passwd. authzid is "" when the client sent none; one naming another
// user is for LoginAs to allow (service administrators) or refuse.
func ParsePlain(msg []byte) (authzid, authcid, passwd string, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 {
		return "", "", "", errors.New("malformed PLAIN message: want authzid NUL authcid NUL password")
	}
	return string(parts[0]), string(parts[1]), string(parts[2]), nil
}
