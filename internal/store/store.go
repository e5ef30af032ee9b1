package store

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// Options configure a Store.
type Options struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// TempDir holds spooled messages larger than SpoolMemory; "" means os.TempDir().
	TempDir string
	// SpoolMemory is the size up to which a message is spooled in memory.
	SpoolMemory int64
	// DefaultQuotaStorage and DefaultQuotaMessages apply to new users (0: unlimited).
	DefaultQuotaStorage, DefaultQuotaMessages int64
	// Publish, if set, is told of every committed change (IDLE, the notifier).
	Publish func(mail.Event)
	// Observer, if set, is told of every mailbox commit, for the metrics.
	Observer Observer
	// PurgeGrace is the purge's grace (store.purge.grace): PurgeGrace
	// returns it for the purge passes the caller runs.
	PurgeGrace time.Duration
	// PurgeLogHistory is the change log's history
	// (store.purge.log_history): PurgeLogHistory returns it for the purge
	// passes the caller runs (logtrim.go).
	PurgeLogHistory time.Duration
	// RecentBodies bounds the bytes of just-stored bodies kept in memory
	// for the readers that follow a delivery (store.bodycache,
	// bodycache.go); 0 keeps none.
	RecentBodies int64
}

// Observer is told of the Store's commits, the one primitive every change
// to a mailbox goes through (cmd/quire passes the Prometheus side,
// internal/metrics). It runs on the committing goroutine: it must be safe
// for concurrent use and cheap.
type Observer interface {
	// Commit reports one commit: its operation ("append", "flags",
	// "expunge"), the attempts it took (more than one when concurrent
	// changes made it retry), its time, and its error (nil: committed).
	Commit(op string, attempts int, d time.Duration, err error)
}

// Store is the message store. It is safe for concurrent use.
type Store struct {
	b     Backend
	opts  Options
	log   *slog.Logger
	inbox mailboxCache // user ID -> INBOX, for deliveries
	usage usageCache   // user ID -> usage, for the quota check
	index IndexHook
	purge purgeState
	fresh *recentBodies // nil: none kept
	// workers run the goroutines of deliveries to several recipients.
	workers *workers
	// spoolBufs are the buffers messages are read into (spool.go).
	spoolBufs sync.Pool
}

// IndexHook follows the changes the full-text index must follow (package
// indexer implements it). Its methods must not fail the change: it has
// happened.
type IndexHook interface {
	// Added is called once messages are committed to mb; delivery is true
	// for LMTP deliveries. Before the commit, the Store marked mb
	// unindexed (IndexQueue). Each row has its UID, and its Meta unless
	// the store did not have it at hand (Meta.Structure nil: a delivery
	// an earlier attempt had stored); Flags and ModSeq are not set.
	Added(ctx context.Context, mb Mailbox, added []MessageRow, delivery bool)
	// Expunged is called once messages are expunged from mb.
	Expunged(mb Mailbox, uids []mail.UID)
	// MailboxDeleted is called once mb is deleted.
	MailboxDeleted(mb Mailbox)
	// UserDeleted is called once u is deleted.
	UserDeleted(u User)
}

// SetIndexHook makes the store tell h of additions, expunges and mailbox
// deletions, and mark mailboxes unindexed before it adds to them. Call it
// before the store is shared.
func (s *Store) SetIndexHook(h IndexHook) { s.index = h }

// New returns a Store over b. The caller keeps ownership of b.
func New(b Backend, opts Options) *Store {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SpoolMemory <= 0 {
		opts.SpoolMemory = 1 << 20
	}
	return &Store{b: b, opts: opts, log: opts.Logger, fresh: newRecentBodies(opts.RecentBodies, opts.Now), workers: newWorkers()}
}

// PurgeGrace returns Options.PurgeGrace.
func (s *Store) PurgeGrace() time.Duration { return s.opts.PurgeGrace }

// PurgeLogHistory returns Options.PurgeLogHistory.
func (s *Store) PurgeLogHistory() time.Duration { return s.opts.PurgeLogHistory }

// Backend returns the backend the store runs on.
func (s *Store) Backend() Backend { return s.b }

// DefaultMailboxes are created with every user: INBOX and the special-use
// mailboxes of RFC 6154.
var defaultMailboxes = [...]struct{ name, use string }{
	{"INBOX", ""},
	{"Drafts", `\Drafts`},
	{"Sent", `\Sent`},
	{"Trash", `\Trash`},
	{"Junk", `\Junk`},
	{"Archive", `\Archive`},
}

// CanonicalAddress lower-cases an address and strips a +detail from its
// local part: user+detail@example.org is user@example.org.
func CanonicalAddress(addr string) (string, error) {
	addr = strings.ToLower(strings.TrimSpace(addr))
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n<>\"") {
		return "", fmt.Errorf("store: %q is not an address of the form local@domain", addr)
	}
	local, domain := addr[:at], addr[at+1:]
	if i := strings.IndexByte(local, '+'); i > 0 {
		local = local[:i]
	}
	return local + "@" + domain, nil
}

// CreateUser creates a user with its default mailboxes. passwordHash is a
// PHC string made by the directory (argon2id).
func (s *Store) CreateUser(ctx context.Context, address, passwordHash string) (User, error) {
	return s.CreateUserAt(ctx, address, passwordHash, nil)
}

// CreateUserAt is CreateUser with the UIDVALIDITY of default mailboxes
// given by name (absent or 0: a fresh one), for a restore that recreates
// a user as it was (CreateMailboxAt).
func (s *Store) CreateUserAt(ctx context.Context, address, passwordHash string, uidValidity map[string]uint32) (User, error) {
	addr, err := CanonicalAddress(address)
	if err != nil {
		return User{}, err
	}
	u := User{
		ID:            newID(),
		Address:       addr,
		PasswordHash:  passwordHash,
		QuotaStorage:  s.opts.DefaultQuotaStorage,
		QuotaMessages: s.opts.DefaultQuotaMessages,
		Created:       s.opts.Now().UTC().Truncate(timeUnit),
	}
	if err := s.b.CreateUser(ctx, u); err != nil {
		return User{}, err
	}
	for _, d := range defaultMailboxes {
		if v := uidValidity[d.name]; v != 0 {
			_, err = s.CreateMailboxAt(ctx, u, d.name, d.use, v)
		} else {
			_, err = s.CreateMailbox(ctx, u, d.name, d.use)
		}
		if err != nil && !errors.Is(err, mail.ErrMailboxExists) {
			return u, fmt.Errorf("store: create %s for %s: %w", d.name, addr, err)
		}
		if err := s.b.SetSubscribed(ctx, u.ID, d.name, true); err != nil {
			return u, err
		}
	}
	return u, nil
}

// User returns the user for an address; a +detail is ignored.
func (s *Store) User(ctx context.Context, address string) (User, error) {
	addr, err := CanonicalAddress(address)
	if err != nil {
		return User{}, fmt.Errorf("%w: %w", mail.ErrNoSuchUser, err)
	}
	return s.b.User(ctx, addr)
}

// UpdateUser stores changes to a user record (password, quota, mailHost).
func (s *Store) UpdateUser(ctx context.Context, u User) error { return s.b.UpdateUser(ctx, u) }

// DeleteUser removes a user and its mailboxes.
func (s *Store) DeleteUser(ctx context.Context, u User) error {
	// The cached INBOX goes first: a delete that fails half-way may have
	// deleted it, and the user's next delivery must then recreate it
	// (inboxOf), not fail on the old one.
	s.inbox.forget(u.ID)
	if err := s.b.DeleteUser(ctx, u); err != nil {
		return err
	}
	s.usage.dropUser(u.ID)
	if s.index != nil {
		s.index.UserDeleted(u)
	}
	return nil
}

// ListUsers calls fn for every user.
func (s *Store) ListUsers(ctx context.Context, fn func(User) error) error {
	return s.b.ListUsers(ctx, fn)
}

// Usage is what a user's mail occupies (RFC 9208 STORAGE and MESSAGE).
type Usage struct {
	Storage  int64
	Messages int64
}

// Usage sums the heads of the user's mailboxes, read now (GETQUOTA).
func (s *Store) Usage(ctx context.Context, u User) (Usage, error) {
	return s.readUsage(ctx, u)
}

// checkQuota returns mail.ErrOverQuota if adding n messages of size bytes
// would exceed the user's limits.
func (s *Store) checkQuota(ctx context.Context, u User, n, size int64) error {
	if u.QuotaStorage <= 0 && u.QuotaMessages <= 0 {
		return nil
	}
	us, err := s.quotaUsage(ctx, u)
	if err != nil {
		return err
	}
	if u.QuotaStorage > 0 && us.Storage+size > u.QuotaStorage {
		return fmt.Errorf("%w: %s uses %d of %d bytes", mail.ErrOverQuota, u.Address, us.Storage, u.QuotaStorage)
	}
	if u.QuotaMessages > 0 && us.Messages+n > u.QuotaMessages {
		return fmt.Errorf("%w: %s has %d of %d messages", mail.ErrOverQuota, u.Address, us.Messages, u.QuotaMessages)
	}
	return nil
}

// commitRetry runs fn until its Commit does not conflict, with jittered
// backoff. fn reads the head, computes and commits.
func (s *Store) commitRetry(ctx context.Context, op string, fn func() error) (err error) {
	const attempts = 64
	if o := s.opts.Observer; o != nil {
		start, tries := time.Now(), 0
		defer func() { o.Commit(strings.TrimPrefix(op, "store: "), tries, time.Since(start), err) }()
		inner := fn
		fn = func() error { tries++; return inner() }
	}
	wait := time.Millisecond
	for i := 0; ; i++ {
		err := fn()
		if !errors.Is(err, mail.ErrConflict) {
			return err
		}
		if i == attempts {
			return mail.Unavailable(op, fmt.Errorf("gave up after %d concurrent-change retries", attempts))
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// publish tells the notifier of a committed change to mb: m is its new
// HIGHESTMODSEQ, or 0 for a change to the mailbox itself (create, rename,
// delete).
func (s *Store) publish(mb Mailbox, m mail.ModSeq) {
	if s.opts.Publish != nil {
		s.opts.Publish(mail.Event{UserID: mb.UserID, MailboxID: mb.ID, ModSeq: m, MailHost: mb.MailHost})
	}
}

func newID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// timeUnit is the resolution of stored times: every backend keeps
// milliseconds, so a value read back equals the value written.
const timeUnit = time.Millisecond
