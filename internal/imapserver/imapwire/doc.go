// Package imapwire is the IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC 3501) wire
// codec: a Reader that turns client bytes into typed commands and a Writer
// that formats server responses, including ENVELOPE and BODYSTRUCTURE. It
// does no I/O beyond the bufio.Reader and bufio.Writer it is given and knows
// nothing of the store.
//
// Invariants:
//
//   - Limits are always enforced before allocation. The command text is
//     bounded by Limits.MaxLine, the literals held in memory by
//     Limits.MaxStringLiterals, their number by Limits.MaxLiterals, and an
//     APPEND message literal by Limits.MaxLiteral (APPENDLIMIT, RFC 7889). A
//     literal's announced size is checked before any of it is read or any
//     continuation request is sent, so N input bytes never cost much more
//     than N plus the limits in memory.
//   - The Reader never panics on input. Internally a parse failure unwinds
//     with a private panic value that ReadCommand turns back into an error;
//     no other panic is recovered.
//   - Every error names what was expected where: a *SyntaxError carries a
//     human reason for the tagged BAD ("expected SP after tag", "unknown
//     fetch attribute \"BODYX\""), a *LimitError the response code (TOOBIG or
//     LIMIT, RFC 9051 7.1) and whether the connection can continue.
//   - After any *SyntaxError or non-fatal *LimitError the Reader has already
//     skipped the rest of the failed command, non-synchronizing literals
//     included, so the session replies and reads the next command.
//   - Mailbox names are UTF-8 in Commands. On the wire they are modified
//     UTF-7 (RFC 3501 5.1.3) unless UTF8=ACCEPT was enabled (RFC 6855 3), see
//     Reader.SetUTF8Accept and Writer.SetUTF8Accept.
//
// Recovery from a literal that is too big (RFC 7888 4, RFC 9051 7.1): a
// synchronizing literal over a limit is refused before the continuation
// request, so the client sends nothing and the session just replies (BAD or,
// for APPEND, NO [TOOBIG]). A non-synchronizing literal over a limit is
// already on its way; the Reader does not try to skip it and returns a fatal
// *LimitError: the session replies and then closes the connection (RFC 7888
// allows the server to close).
//
// The package holds no mutable package-level state.
package imapwire
