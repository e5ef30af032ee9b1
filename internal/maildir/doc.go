// Package maildir reads and writes Dovecot's Maildir++ format: the folder
// layout, message file names with their flags, dovecot-uidlist,
// dovecot-keywords and subscriptions. It knows files and names only, not
// Quire's store: internal/backup uses it for export and restore, and an
// import of a Dovecot Maildir reads it the same way.
//
// The format, as Dovecot 2.3 reads it:
//
//   - The root directory is INBOX (cur/, new/, tmp/). Every other mailbox
//     is a directory ".a.b" under the root: its name's hierarchy joined
//     with ".", each level in modified UTF-7 (RFC 3501 5.1.3), the layout
//     Dovecot calls Maildir++. A "." inside a level, which Maildir++
//     cannot hold, is written as U+2024 ONE DOT LEADER, which looks alike.
//   - A message is one file in cur/, named BASE:2,LETTERS. LETTERS are
//     the system flags D (\Draft), F (\Flagged), R (\Answered), S (\Seen),
//     T (\Deleted) in ASCII order, then keyword letters a..z, each the
//     index of a keyword in the folder's dovecot-keywords. BASE carries
//     ",S=<size>" (the file's size) and ",W=<size>" (its size with CRLF
//     line ends, what IMAP reports as RFC822.SIZE).
//   - dovecot-uidlist maps UIDs to BASEs: a header "3 V<uidvalidity>
//     N<uidnext> G<guid>" and one line "<uid> [fields] :<base>" a message,
//     UIDs ascending.
//   - dovecot-keywords: one line "<index> <keyword>" a keyword, 0..25.
//   - subscriptions (in the root): one mailbox name a line, levels joined
//     with "." in modified UTF-7; Dovecot's version 2 file ("V\t2" then
//     names with levels joined by tabs) is read too.
//
// Every parser returns an error for input it does not understand rather
// than guessing, and each has a fuzz target.
package maildir
