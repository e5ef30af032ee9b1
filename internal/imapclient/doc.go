// Package imapclient is the small IMAP4rev1 client (RFC 3501; RFC 9051
// servers answer it too) quire import imap reads another server with:
// connect in clear, with implicit TLS or with STARTTLS (RFC 3501 6.2.1),
// log in (LOGIN, or SASL PLAIN with an authorization identity, RFC 4616,
// for an administrator reading a user's mail), LIST and LSUB, EXAMINE,
// and UID FETCH of flags, INTERNALDATE and bodies (BODY.PEEK[], so that
// reading sets no \Seen), many bodies to one command, read response by
// response as they arrive (Bodies).
//
// Invariants: ReadResponse never panics and bounds what a server can make
// it hold (a literal's size, a line's length, the nesting of lists); a
// server's error reply becomes an error that quotes it. Commands are
// sent one at a time, each waiting for its tagged reply: while a UID
// FETCH of bodies is being read no other command goes out, and after a
// reply the client could not read to its end none does. Mailbox names
// go out in modified UTF-7 (RFC 3501 5.1.3) and come back decoded.
package imapclient
