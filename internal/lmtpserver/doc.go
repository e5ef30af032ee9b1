// Package lmtpserver is Quire's LMTP server (RFC 2033): an MTA hands it
// messages over a local or trusted network, and it stores each one once and
// files it in the INBOX of every accepted recipient.
//
// The server is written on the standard library rather than on go-smtp,
// because go-smtp's DATA reader drops the CR of a line that starts with
// ".\r" followed by anything but LF (so bodies would not be stored byte for
// byte), its line-length limit applies inside DATA and closes the
// connection, and its reply texts, timeouts and shutdown are not ours to
// choose.
//
// # Invariants
//
//   - 250 only after the message is durable: a recipient's 250 is written
//     only once Store.Deliver has returned nil for it, that is once the body
//     and the index row pointing to it are stored at the configured write
//     consistency (DESIGN.md 3.4). Any failure before that gets a 4xx or 5xx.
//   - The body is stored byte for byte: the server removes only the
//     dot-stuffing of RFC 5321 4.5.2, keeps every CR and LF as received, and
//     adds no header (DESIGN.md 3.5).
//   - One spool, one Deliver: a transaction's body is spooled once and
//     Store.Deliver is called once for all its accepted recipients, so they
//     share one blob.
//   - The session stays in sync: a message over the size limit is still
//     read to its end (DATA) or last chunk (BDAT) and discarded, and an
//     over-long command line is discarded to its end.
//   - No panic reaches the client: a session that panics replies
//     "421 4.3.0 internal error", logs the stack and closes.
//
// # Replies
//
// Enhanced status codes are those of RFC 3463 (RFC 2034 makes them
// mandatory once advertised).
//
//	command  condition                           reply
//	(connect)                                    220 <host> LMTP server ready
//	(connect) over MaxConnections                421 4.3.2 <host> too many connections, try again later
//	LHLO     (RFC 2033 4.1)                      250 PIPELINING ENHANCEDSTATUSCODES 8BITMIME SIZE CHUNKING SMTPUTF8
//	HELO/EHLO                                    500 5.5.1 (LMTP has LHLO only, RFC 2033 4.1)
//	MAIL     SIZE= over MaxMessageSize (RFC 1870) 552 5.3.4 message size exceeds fixed limit
//	MAIL     accepted                            250 2.1.0
//	RCPT     user found (+detail ignored)        250 2.1.5
//	RCPT     mail.ErrNoSuchUser                  550 5.1.1 <addr>: no such user here
//	RCPT     mail.ErrUnavailable, other errors   451 4.3.0 <addr>: temporary failure, try again later
//	RCPT     over MaxRecipients (RFC 5321 4.5.3.1.10) 452 4.5.3 too many recipients
//	DATA     no accepted recipient (RFC 2033 4.2) 503 5.5.1 no valid recipients
//	BDAT     chunk received, not LAST (RFC 3030) 250 2.0.0
//	any      line over MaxLineLength             500 5.5.2 line too long
//	any      idle for Timeout                    421 4.4.2 <host> timeout, closing connection
//	any      server closing                      421 4.3.2 <host> shutting down
//	any      panic                               421 4.3.0 internal error
//
// After the end of DATA, or after BDAT LAST, the server sends one reply per
// accepted recipient, in RCPT order (RFC 2033 4.2), each naming the
// recipient as its RCPT gave it:
//
//	Deliver result        reply
//	nil                   250 2.0.0 <addr> delivered
//	mail.ErrNoSpace       452 4.3.1 <addr> insufficient system storage, try again later
//	mail.ErrUnavailable   451 4.3.0 <addr> temporary failure, try again later
//	mail.ErrOverQuota     552 5.2.2 <addr> mailbox full
//	mail.ErrTooBig        552 5.3.4 <addr> message too large (also every recipient when Spool says so)
//	mail.ErrNoSuchUser    550 5.1.1 <addr> no such user here
//	anything else         451 4.3.0 <addr> temporary failure, try again later (logged)
//
// A temporary error wins: an error that wraps mail.ErrUnavailable gets 451
// whatever else it wraps, or 452 if it is a full disk (mail.ErrNoSpace,
// RFC 5321 4.2.3, RFC 3463 X.3.1); either way the MTA keeps the message
// and retries. Recipients that name the same user (a+x@ and
// a+y@) are delivered once and share the result.
//
// MaxLineLength bounds command lines only. Message lines are bounded by
// MaxMessageSize alone, because malformed mail with long lines is stored,
// not refused (DESIGN.md 3.5).
package lmtpserver
