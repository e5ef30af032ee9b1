// Package pop3server is Quire's POP3 server (RFC 1939) with CAPA (RFC
// 2449), SASL PLAIN (RFC 5034), STLS (RFC 2595) and implicit TLS (RFC
// 8314). The maildrop is the user's INBOX, the same mailbox IMAP serves.
//
// Invariants:
//   - The maildrop is a snapshot taken at login: messages delivered during
//     the session do not appear in it (RFC 1939 8 allows either; a fixed
//     list keeps message numbers stable).
//   - UIDL is "UIDVALIDITY.UID": stable across sessions, hosts and
//     backends, and it changes only if the mailbox is recreated.
//   - DELE only marks; nothing changes in the store until QUIT, which
//     expunges the marked messages through the store, so IMAP sessions see
//     the expunge and the change log records it (QRESYNC VANISHED). A
//     dropped connection expunges nothing. RETR'd messages get \Seen at
//     QUIT too.
//   - One POP3 session per user per server: a second gets -ERR [IN-USE]
//     (RFC 2449 8.1.2). Sessions on other hosts are not locked out; their
//     QUITs expunge independently, and expunging a message twice is
//     harmless.
//   - RETR and TOP stream the message from the blob store, dot-stuffed;
//     a message is never held in memory.
//   - No panic reaches a client: a failing command is logged and answered
//     -ERR [SYS/PERM], and the connection closed.
//
// Replies (RFC 2449 8, RFC 3206):
//
//	-ERR [AUTH]       wrong user name or password, or plaintext refused
//	-ERR [IN-USE]     the maildrop is already open in another session
//	-ERR [SYS/TEMP]   the store is temporarily unavailable, or too many
//	                  logins wait for password checks (login.ErrBusy); try later
//	-ERR [SYS/TEMP] server shutting down
//	                  Server.Shutdown, to a session waiting for a command (one
//	                  running a command gets its reply first); DELE marks are
//	                  dropped, since the session never reaches UPDATE (RFC 1939 6)
//	-ERR [SYS/PERM]   an internal failure; the failure was logged
//	-ERR              anything else, with the reason
package pop3server
