// Package login authenticates IMAP and POP3 users and slows down password
// guessing. One Guard is shared by every protocol server of a process, so a
// client that fails over POP3 is delayed over IMAP too.
//
// Invariants:
//   - A failed login costs the same whether or not the user exists: a
//     missing user is checked against a dummy hash of the default scheme.
//   - The delay grows with failures per user and per client address, up to
//     Options.MaxDelay, and resets for the user on success.
//   - The Guard's memory is bounded (MaxEntries); when full it forgets the
//     entries that failed longest ago, never the newest.
//   - Errors are mail.ErrAuthFailed (wrong name or password, or a disabled
//     scheme) or wrap mail.ErrUnavailable (the store could not be asked), so
//     servers answer AUTHENTICATIONFAILED or UNAVAILABLE (RFC 5530) without
//     guessing.
package login
