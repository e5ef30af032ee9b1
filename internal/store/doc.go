// Package store is Quire's message store: the logic written once over every
// backend.
//
// Store decides; a Backend persists. Store computes each change to a mailbox
// (UID and mod-sequence allocation, exact counts, the change-log entries) from
// the mailbox's Head, and hands old head, new head and changes to
// Backend.Commit, which applies them atomically if the head has not moved
// since it was read. A Store that loses that race reads again and retries.
// The invariants of DESIGN.md section 3 therefore hold for any number of
// Stores, in any number of processes, over one backend:
//
//   - UIDs in a mailbox are unique and strictly ascending in the order they
//     become visible, because allocation and visibility are one Commit.
//   - Every Commit raises HIGHESTMODSEQ, and every change, expunges included,
//     is logged with its MODSEQ (RFC 7162 3.1, 3.2.10), and kept at least
//     the purge's log history; Changes from before the mailbox's log floor
//     fails with ErrLogTrimmed, never a short list (logtrim.go).
//   - Head counts (messages, unseen, deleted, size) are exact: each Commit
//     adjusts them together with the change that causes them.
//   - Bodies are written (and durable) before any metadata that points to
//     them, so a crash leaves at worst an unreferenced body for the purge.
//   - One delivery to many recipients, COPY and MOVE share one body.
//   - A writer claims a body (PutBlob, BlobPurger.ClaimBlobs) before the
//     commit that references it, and commits within the purge's grace
//     (re-claiming if it must retry longer); the purge frees a body only
//     if two passes at least the grace apart found no row referencing it
//     and no claim came in between, so it never frees a body a row
//     references (purge.go, ARCHITECTURE.md "Purge"). Pieces a write
//     stores before the record that reaches them (OrphanPurger) are freed
//     only when older than the grace and reached by no record.
//
// Quota usage is derived from the heads of the user's mailboxes, a bounded
// source, so it can never drift. The quota check reads a per-user cache of
// those heads that this Store's own commits keep exact and that is read
// afresh once a minute old, which bounds how long another host's commits
// go unseen (usage.go).
package store
