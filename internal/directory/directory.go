package directory

import (
	"context"
	"strings"
)

// Directory is where users are looked up: the access hosts (login, LMTP
// recipients) and the front-end proxy (routing by mailHost) ask it.
// Implementations: package storedir (users in the store) and package
// ldapdir (an LDAP server). They are safe for concurrent use.
type Directory interface {
	// Lookup returns the user an address belongs to, by canonical address
	// or alias. Its error is mail.ErrNoSuchUser, or wraps
	// mail.ErrUnavailable when the directory could not be asked.
	Lookup(ctx context.Context, address string) (Entry, error)
	// Bind verifies password for an entry without PasswordHash by asking
	// the directory (an LDAP bind as the user). A wrong password is
	// (false, nil); an error wraps mail.ErrUnavailable. An empty password
	// never verifies.
	Bind(ctx context.Context, e Entry, password string) (bool, error)
	// ServiceAdmin reports whether e may open other users' stores (SASL
	// PLAIN with an authorization identity, for migration and support).
	ServiceAdmin(ctx context.Context, e Entry) (bool, error)
}

// Entry is what a directory says of a user.
type Entry struct {
	Address string   // canonical: lower case, no +detail
	Aliases []string // other addresses delivering to the user, canonical
	// MailHost names the store affinity group (or a host of it) that
	// serves the user; "" when the directory does not say.
	MailHost string
	// QuotaStorage (bytes) and QuotaMessages are the user's limits; 0 when
	// the directory does not set them (the store's own value stands).
	QuotaStorage, QuotaMessages int64
	Status                      Status
	// PasswordHash is the hash to verify locally (VerifyPassword); ""
	// when the directory verifies passwords itself (Bind).
	PasswordHash string
	// Credential changes whenever the user's password does: the stored
	// hash, or an LDAP entry's DN with its modification stamp. A cached
	// verification is used only against the same Credential.
	Credential string
	// DN is the entry's distinguished name in an LDAP directory.
	DN string
	// External is true for a directory other than the store: a user new
	// to the store gets their mailboxes at first login or delivery.
	External bool
	// Record is the directory's own record the entry was read from, for
	// that directory's use (package storedir keeps the store's user in
	// it, so opening the user reads nothing more); nil for others.
	Record any
}

// Status is an account's state. The values follow carrier directories'
// mailUserStatus: active; suspended (no login, mail is delivered);
// locked (no login, no delivery).
type Status uint8

const (
	StatusActive Status = iota
	StatusSuspended
	StatusLocked
)

func (s Status) String() string {
	switch s {
	case StatusActive:
		return "active"
	case StatusSuspended:
		return "suspended"
	}
	return "locked"
}

// ParseStatus maps a directory's status value to a Status: "" and
// "active" (or "A") are active, "suspended" ("S") suspended, "locked"
// ("L"), "disabled" and "deleted" ("D") locked. ok is false for any other
// value, which the caller treats as locked: an unknown state never grants
// access.
func ParseStatus(v string) (s Status, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "active", "a", "enabled":
		return StatusActive, true
	case "suspended", "s":
		return StatusSuspended, true
	case "locked", "l", "disabled", "deleted", "d":
		return StatusLocked, true
	}
	return StatusLocked, false
}
