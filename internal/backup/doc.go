// Package backup exports one user's mailboxes to a portable archive and
// restores them: a Maildir++ tree Dovecot reads as it is (internal/maildir:
// dovecot-uidlist with the mailboxes' UIDVALIDITY, UIDNEXT and UIDs,
// dovecot-keywords, flag letters, subscriptions, each message's
// INTERNALDATE as its file's modification time), plus quire-backup.json
// for what Maildir cannot hold: each mailbox's HIGHESTMODSEQ and special
// use, each message's EMAILID and return path, keywords beyond the 26 a
// folder's file names can carry, and the user's quota.
//
// Restore keeps the rule that no client sees a UID or MODSEQ go back:
//
//   - A mailbox the user does not have, or has but never put a message in
//     (UIDNEXT 1, as "quire user add" leaves INBOX), is created with the
//     archive's UIDVALIDITY, and its messages keep their UIDs; UIDNEXT is
//     the archive's. A client that cached the mailbox before the loss finds
//     it as it was. (An archived mailbox without messages but with UIDNEXT
//     above 1 cannot be given its UIDNEXT without a message, so it gets a
//     fresh UIDVALIDITY above the archive's instead, which tells clients
//     to forget their cache. A never-used mailbox the archive has nothing
//     for keeps its own.)
//   - A mailbox that has held messages keeps its UIDVALIDITY, and the
//     archive's messages are added with their UIDs raised by an offset,
//     UIDNEXT - 1 of the mailbox before the restore, so they land above
//     every UID it has given (the disaster-recovery offset; James calls it
//     uid.modseq.increment). Messages whose body the mailbox already holds
//     are skipped, so restoring an archive twice adds nothing.
//   - Restored messages get MODSEQs above both the archive's HIGHESTMODSEQ
//     and the mailbox's: a client resynchronising with CONDSTORE/QRESYNC
//     (RFC 7162) fetches their flags once, and never misses a change.
//
// Restore does not check quota (it puts back what the user had); it sets
// the archive's quota where the user's is unlimited. Bodies are restored
// byte for byte: the store keeps them content-addressed by SHA-256.
//
// Import reads a Maildir++ tree Dovecot wrote the same way (import.go): it
// creates a missing user with the tree's UIDVALIDITYs, and resumes an
// interrupted import (a mailbox of the folder's UIDVALIDITY takes only the
// UIDs from its UIDNEXT on) instead of offsetting. It reads another IMAP
// server the same way (imap.go: the server's UIDVALIDITYs and UIDs), and
// mbox files (mbox.go: no UIDs of their own; a resumed import skips the
// bodies the mailbox holds). Every source becomes folders of messages
// (source.go) that one loop, importFolder, adds through AppendAt.
package backup
