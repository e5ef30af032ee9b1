// Package imapserver is Quire's IMAP4rev2 (RFC 9051) and IMAP4rev1 (RFC
// 3501) server, with the extensions modern clients use. It speaks through
// the imapwire codec and keeps everything in the store; a session holds
// only its view of the selected mailbox.
//
// # Sessions and the selected mailbox
//
// A selected session keeps a view: the UIDs it has told the client of, in
// order (sequence number n is the n-th), the mod-sequence up to which it
// has applied the mailbox's change log, and the expunges it has learned of
// but not yet reported. Before each tagged reply the session reads the
// change log from its mod-sequence on (store.Changes) and reports what
// happened: new messages as EXISTS, flag changes as FETCH (UID, FLAGS and,
// under CONDSTORE, MODSEQ), expunges as EXPUNGE or, after ENABLE QRESYNC,
// VANISHED.
//
// Invariants:
//   - The view only moves forward, and only while the client is told: the
//     client's sequence numbers and the view agree at every tagged reply.
//   - No EXPUNGE or VANISHED is sent while answering FETCH, STORE, SEARCH,
//     COPY, MOVE, SORT or THREAD by sequence number (RFC 9051 7.5.1); the
//     expunges wait for the next command that allows them. A FETCH of a
//     message another session expunged still returns its data, read from
//     the store's expunged rows (RFC 2180 4.1.1); OK [EXPUNGEISSUED] says
//     some data was no longer stored.
//   - "UID n:*" and "*" name only messages of the view, so a client never
//     learns of a message through a UID range before EXISTS.
//   - Flag changes this session made are reported once, by the command
//     that made them, not again by the next refresh.
//   - A refresh reports flag changes only of messages the view held
//     before it: a message it adds is announced by EXISTS alone, its
//     flags are the client's to fetch (RFC 9051 5.2).
//   - QRESYNC (RFC 7162) is exact: the change log keeps every expunge with
//     its mod-sequence, so VANISHED (EARLIER) lists exactly the UIDs
//     expunged since the client's mod-sequence.
//   - \Recent (IMAP4rev1 only) is given to a new message in exactly one
//     session of this process, the first to select its mailbox read-write;
//     it is kept in memory, so each host and each restart starts afresh.
//
// # Bodies
//
// FETCH streams from the blob store: BODY[section]<partial> and
// BINARY[section] are cut from the part offsets stored with each message
// (message.Part), so a 50 MB message is never held in memory. BINARY
// decodes twice, once to size the literal and once to send it.
//
// # Errors
//
// Store errors map to RFC 5530 codes: a missing mailbox is NONEXISTENT,
// or TRYCREATE for a destination (APPEND, COPY, MOVE); ALREADYEXISTS,
// OVERQUOTA, TOOBIG, CANNOT, EXPUNGEISSUED, and UNAVAILABLE when the
// store is temporarily down (mail.ErrUnavailable) or, for LOGIN and
// AUTHENTICATE, when password checks stayed over their memory budget
// (login.ErrBusy). Bad syntax is BAD with the parser's reason;
// MaxBadCommands BADs in a row close the connection.
// A panic in a command is recovered, logged with its stack, and answered
// NO [SERVERBUG] (RFC 5530); it never reaches the client as a dropped
// connection. A panic outside a command ends that session only, with
// BYE [SERVERBUG].
//
// # Shutdown
//
// Server.Shutdown ends every session with BYE [UNAVAILABLE] (RFC 9051
// 7.1.5): at once when it waits for a command, is in IDLE or is in the
// middle of a command line; after the tagged reply when it runs a command
// (an APPEND whose literal is arriving finishes and is stored). What is
// still open when Shutdown's context ends is closed without a word.
//
// # Limits
//
// Command lines (MaxLineLength), APPEND literals (MaxLiteralSize, sent as
// APPENDLIMIT), connections per listener, per user and per client address,
// and the idle timeout are all configured; failed logins are slowed by the
// login.Guard that POP3 shares.
package imapserver
