package mail

import (
	"errors"
	"fmt"
	"syscall"
)

// Sentinel errors shared by the store, the directory and the protocol servers.
// Protocol servers map them to replies: see each server's package doc.
var (
	ErrNoSuchUser     = errors.New("mail: no such user")
	ErrUserExists     = errors.New("mail: user already exists")
	ErrNoSuchMailbox  = errors.New("mail: no such mailbox")
	ErrMailboxExists  = errors.New("mail: mailbox already exists")
	ErrBadMailboxName = errors.New("mail: bad mailbox name")
	ErrNoSuchMessage  = errors.New("mail: no such message")
	ErrOverQuota      = errors.New("mail: over quota")
	ErrTooBig         = errors.New("mail: message too large")
	ErrAuthFailed     = errors.New("mail: authentication failed")
	ErrCannot         = errors.New("mail: operation not permitted")
	ErrConflict       = errors.New("mail: concurrent change, retry")
	ErrUnavailable    = errors.New("mail: store temporarily unavailable")
	ErrUnchangedSince = errors.New("mail: message changed since the given mod-sequence")
	ErrNoBlob         = errors.New("mail: message body missing")
	// ErrNoSpace: the store's disk is full (ENOSPC, or below the store's
	// reserve). It comes wrapped in ErrUnavailable too (see Unavailable):
	// the operation may succeed once space is freed.
	ErrNoSpace = errors.New("mail: the store's disk is full")
)

// Unavailable wraps err so that errors.Is(result, ErrUnavailable) holds: the
// operation failed for a reason that may pass, and the caller may retry.
// A full disk (syscall.ENOSPC) is ErrNoSpace as well.
func Unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("%s: %w", op, err)
	}
	if errors.Is(err, syscall.ENOSPC) && !errors.Is(err, ErrNoSpace) {
		return fmt.Errorf("%s: %w: %w: %w", op, ErrUnavailable, ErrNoSpace, err)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
}

// Temporary reports whether err is worth retrying later.
func Temporary(err error) bool { return errors.Is(err, ErrUnavailable) }
