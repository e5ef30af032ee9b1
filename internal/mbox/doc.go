// Package mbox reads mbox files as mail programs and Dovecot write them,
// for quire import mbox. It knows bytes, not Quire's store.
//
// The format (RFC 4155, and what mutt, Thunderbird, UW-IMAP and Dovecot
// do beyond it):
//
//   - Each message starts with a From_ line, "From SENDER DATE", at the
//     start of the file or after an empty line; the empty line before a
//     From_ line belongs to neither message. DATE is asctime's form
//     ("Mon Jan  2 15:04:05 2006"), sometimes with a zone or without the
//     seconds; it is the message's INTERNALDATE where it parses.
//   - A body line that would start with "From " is quoted with ">". In
//     mboxrd every line matching ^>*From gets one more ">", so reading
//     takes one off every ^>+From line; in mboxo only ^From lines were
//     quoted, so reading takes the ">" off ^>From lines only (and ">From"
//     written by the author is lost either way: mboxo is ambiguous).
//     Dovecot quotes nothing and takes nothing off (it writes
//     Content-Length instead): NoQuoting reads its files as it serves them.
//   - The line end before a From_ line, and the one the file ends with,
//     belong to the mbox, not to the message (writers put an empty line
//     after every message; Dovecot reads them so).
//   - A Content-Length header (mboxcl2, Solaris, old Dovecot) is honoured
//     only where it points exactly at the end of the file or at an empty
//     line followed by a From_ line; otherwise it is ignored and the next
//     From_ line ends the message. Honouring it lets a body hold an
//     unquoted "From " line.
//   - Status and X-Status carry the flags (R \Seen; O old, i.e. not
//     \Recent, which an import has no use for; A \Answered; F \Flagged;
//     D \Deleted; T \Draft), X-Keywords the keywords, space or comma
//     separated. X-UID, X-IMAP and X-IMAPbase are Dovecot's and UW-IMAP's
//     UID bookkeeping. These headers and Content-Length are the mbox's,
//     not the message's: Dovecot hides them from IMAP clients, and the
//     import removes them from the stored message the same way, so a
//     message imported from an mbox is byte for byte what Dovecot served
//     from it (TestDovecotReadsMbox in internal/backup checks that against
//     a real Dovecot). X-UID and X-IMAPbase are not kept: Dovecot's UIDs
//     for messages without an X-UID come from its index, not the file,
//     so an import from a Dovecot that serves mbox goes over IMAP where
//     its UIDs matter. A first message with an X-IMAP header is UW-IMAP's and
//     Dovecot's folder pseudo message ("DON'T DELETE THIS MESSAGE"): it is
//     not mail, and is skipped.
//
// Scan never panics and returns an error only for a read error: every
// byte sequence is some mbox, and a file that does not start with a
// From_ line is refused by Scan (ErrNotMbox). Each parser has a fuzz
// target.
package mbox
