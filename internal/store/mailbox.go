package store

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/quiremail/quire/internal/mail"
)

// Separator is the mailbox hierarchy separator (RFC 9051 5.1.1).
const Separator = "/"

// MaxMailboxNameLength bounds a mailbox name, in bytes.
const MaxMailboxNameLength = 1000

// CanonicalMailboxName validates name and returns its stored form: INBOX in
// any case is "INBOX" (RFC 9051 5.1), and a trailing separator is dropped.
func CanonicalMailboxName(name string) (string, error) {
	name = strings.TrimSuffix(name, Separator)
	switch {
	case name == "":
		return "", fmt.Errorf("%w: empty name", mail.ErrBadMailboxName)
	case len(name) > MaxMailboxNameLength:
		return "", fmt.Errorf("%w: longer than %d bytes", mail.ErrBadMailboxName, MaxMailboxNameLength)
	case !utf8.ValidString(name):
		return "", fmt.Errorf("%w: not valid UTF-8", mail.ErrBadMailboxName)
	case strings.Contains(name, Separator+Separator) || strings.HasPrefix(name, Separator):
		return "", fmt.Errorf("%w: %q has an empty hierarchy level", mail.ErrBadMailboxName, name)
	case strings.ContainsAny(name, "\r\n\x00*%"):
		return "", fmt.Errorf("%w: %q holds a control or wildcard character", mail.ErrBadMailboxName, name)
	}
	if strings.EqualFold(name, "INBOX") {
		return "INBOX", nil
	}
	if len(name) > 6 && strings.EqualFold(name[:6], "INBOX"+Separator) {
		name = "INBOX" + name[5:]
	}
	return name, nil
}

// CreateMailbox creates a mailbox with a fresh UIDVALIDITY.
func (s *Store) CreateMailbox(ctx context.Context, u User, name, specialUse string) (Mailbox, error) {
	name, err := CanonicalMailboxName(name)
	if err != nil {
		return Mailbox{}, err
	}
	uv, err := s.b.NextUIDValidity(ctx, u.ID)
	if err != nil {
		return Mailbox{}, err
	}
	return s.CreateMailboxAt(ctx, u, name, specialUse, uv)
}

// Mailbox returns a user's mailbox by name.
func (s *Store) Mailbox(ctx context.Context, u User, name string) (Mailbox, error) {
	name, err := CanonicalMailboxName(name)
	if err != nil {
		return Mailbox{}, fmt.Errorf("%w: %w", mail.ErrNoSuchMailbox, err)
	}
	mb, err := s.b.Mailbox(ctx, u.ID, name)
	mb.MailHost = u.MailHost
	return mb, err
}

// Mailboxes returns all of a user's mailboxes, sorted by name.
func (s *Store) Mailboxes(ctx context.Context, u User) ([]Mailbox, error) {
	mbs, err := s.b.ListMailboxes(ctx, u.ID)
	for i := range mbs {
		mbs[i].MailHost = u.MailHost
	}
	return mbs, err
}

// Status returns a mailbox's head.
func (s *Store) Status(ctx context.Context, mb Mailbox) (Head, error) {
	return s.b.Head(ctx, mb.ID)
}

// RenameMailbox renames a mailbox. Renaming INBOX is refused here: RFC 9051
// 6.3.6 gives it special semantics that the IMAP server implements as a move.
func (s *Store) RenameMailbox(ctx context.Context, mb Mailbox, newName string) (Mailbox, error) {
	newName, err := CanonicalMailboxName(newName)
	if err != nil {
		return Mailbox{}, err
	}
	if mb.Name == "INBOX" || newName == "INBOX" {
		return Mailbox{}, fmt.Errorf("%w: INBOX cannot be renamed or replaced", mail.ErrCannot)
	}
	if err := s.b.RenameMailbox(ctx, mb, newName); err != nil {
		return Mailbox{}, err
	}
	mb.Name = newName
	s.publish(mb, 0)
	return mb, nil
}

// DeleteMailbox deletes a mailbox. INBOX cannot be deleted (RFC 9051 6.3.4).
func (s *Store) DeleteMailbox(ctx context.Context, mb Mailbox) error {
	if mb.Name == "INBOX" {
		return fmt.Errorf("%w: INBOX cannot be deleted", mail.ErrCannot)
	}
	if err := s.b.DeleteMailbox(ctx, mb); err != nil {
		return err
	}
	s.usage.dropMailbox(mb.UserID, mb.ID)
	s.publish(mb, 0)
	if s.index != nil {
		s.index.MailboxDeleted(mb)
	}
	return nil
}

// SetSubscribed subscribes or unsubscribes a name.
func (s *Store) SetSubscribed(ctx context.Context, u User, name string, on bool) error {
	name, err := CanonicalMailboxName(name)
	if err != nil {
		return err
	}
	return s.b.SetSubscribed(ctx, u.ID, name, on)
}

// Subscriptions returns the user's subscribed names.
func (s *Store) Subscriptions(ctx context.Context, u User) ([]string, error) {
	return s.b.Subscriptions(ctx, u.ID)
}
