// Package login authenticates IMAP and POP3 users and slows down password
// guessing. One Guard, one Budget and one Authenticator are shared by every
// protocol server of a process, so a client that fails over POP3 is delayed
// over IMAP too, and both protocols' password checks share one memory bound.
//
// Invariants:
//   - A failed login costs the same whether or not the user exists: a
//     missing user is checked against a dummy hash (the stored hash a
//     lookup last returned, so of the users' scheme and cost; argon2id of
//     Quire's parameters until then), or, when the directory verifies by
//     bind (LDAP), by a bind as a DN that does not exist. The front-end
//     proxy, which checks no password in proxy.login = "user", runs the
//     same check for a user it refuses as unknown (CheckUnknown).
//   - Passwords are verified through the directory (Accounts): a stored
//     hash within the Budget, a directory's password by its Bind; both
//     under the same Guard and cache. A SASL authorization identity other
//     than the user's own opens that store only for a service
//     administrator.
//   - The delay grows with failures per user and per client address, up to
//     Options.MaxDelay, and resets for the user on success. Attempts whose
//     password is still being checked count as failures for their user,
//     and for their address once it has failed, so concurrent guesses
//     delay each other; an attempt ends as Failed, Passed or Abandoned
//     (never checked), and only Failed counts.
//   - The memory password checks hold (their hashes' parameters, until the
//     collector reclaimed it) never exceeds the Budget, except for a single
//     check whose hash alone needs more; a check that cannot get its memory
//     within HashWait fails with ErrBusy, never as a wrong password.
//   - A cached verification is used only while the user's credential (the
//     stored hash, or an LDAP entry's DN and modification stamps) is the
//     one it was made against, and only after the user was looked up
//     again; the cache keys are keyed hashes, never passwords.
//   - The Guard's and the cache's memory is bounded (MaxEntries,
//     CacheEntries); when full they forget stale entries, then the oldest
//     quarter, never the newest.
//   - Errors are mail.ErrAuthFailed (wrong name or password, or a disabled
//     scheme, or an account not active) or wrap mail.ErrUnavailable (the
//     store or the directory could not be asked, or ErrBusy), so servers answer AUTHENTICATIONFAILED or UNAVAILABLE (RFC
//     5530) without guessing.
package login
