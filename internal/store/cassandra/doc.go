// Package cassandra is the distributed store.Backend: metadata in the
// ms_mbox keyspace, bodies in ms_msg, converted text in ms_cache, on Apache
// Cassandra 5.0 through gocql. Any number of access hosts may use one
// cluster at once; nothing is kept on the host except caches that are only
// hints.
//
// # Invariants (DESIGN.md section 3)
//
//   - UIDs are strictly ascending in the order they become visible, and the
//     change log is gapless and totally ordered: a Commit is ONE conditional
//     batch (one Paxos round) on the mailbox's current log bucket. It sets
//     the head in static columns IF head_modseq is the head the caller read
//     AND the bucket is not sealed AND its fence has not moved, and inserts
//     the change rows in the same partition. Allocation and visibility are
//     the same write.
//   - Every change, expunges included, is a log row keyed by its MODSEQ
//     (RFC 7162 3.1, 3.2.10), so CHANGEDSINCE and VANISHED (EARLIER) are
//     exact.
//   - Head counts are exact: they are static columns replaced by the same
//     Paxos round as the change that moves them. No COUNTER columns.
//   - An uncertain write is neither lost nor duplicated. A Commit whose LWT
//     times out is settled by reading its first log row at serial
//     consistency, which also completes or kills the in-flight Paxos round;
//     each Commit tags that row with a random commit id (cid), so a rival
//     commit of the same (MODSEQ, UID) is never mistaken for ours. "Not
//     landed" is final: the commit's condition carries the bucket's fence,
//     which settling advances before its last read (fence.go), so a
//     request still queued on a silent coordinator never lands after. Settling
//     retries until the caller's deadline (less one request timeout); a
//     commit still unknown then records its appends in the uncertain-writes
//     ledger (uncertain.go) before Commit fails, so that a retried delivery
//     of the same body settles it instead of storing a second copy. All
//     other writes are idempotent (deterministic keys; materialized rows are
//     written USING TIMESTAMP <modseq>, so replays and reordering converge).
//   - Partitions are bounded: the log is bucketed (BucketSize rows per
//     partition), message rows by UID/8192, bodies by chunk.
//   - Churn does not become tombstones: flags and expunges update
//     materialized rows in place (frozen collections, no collection
//     tombstones), the log only grows until the purge drops whole buckets
//     older than the history (logtrim.go), and deletes are partition-
//     shaped, or one range per trim in mbbuckets (the purge: purge.go).
//   - Write order makes a crash harmless: body chunks, then the body's
//     header row (a one-chunk body writes both at once: see putOneChunk);
//     spilled metadata, then the log; the log, then the materialized rows
//     (in the background, after Commit returns: materializeLater).
//   - A message's immutable metadata (ENVELOPE, BODYSTRUCTURE, ...) rides
//     in its log row when small; larger metadata goes to metaspill before
//     the LWT, under a hash of mailbox, UID, MODSEQ and the metadata, so a
//     rival that loses the race for the same UID never overwrites it.
//   - Client clocks never decide an outcome: cells written by Paxos are only
//     written by Paxos (ballot timestamps), and plain writes either carry
//     USING TIMESTAMP <modseq> (or <bucket>) or touch cells Paxos never
//     writes.
//   - Within one host, commits to a mailbox are serialized by a lock, so
//     the host's own goroutines queue instead of colliding in Paxos; a
//     commit on a head this host already saw replaced fails at once.
//
// # Reads
//
// Head reads the current bucket's static columns at the read consistency.
// That is enough, without SERIAL: every write of those columns is a Paxos
// commit at the write consistency, so a quorum read sees every Commit that
// returned; a round still in flight is invisible to plain reads until the
// next Paxos round completes it, and that round (a Commit's CAS or a
// settling SERIAL read) compares against the completed state, so a stale
// Head costs at most an ErrConflict and a retry, never a lost update.
//
// Messages returns one consistent snapshot even while other hosts commit
// and materialize: it reads the head (bucket b, watermark W), then the
// materialized rows, then the log from W onward; every change visible in
// the rows was committed before the log read began, so overlaying the log
// (entries with MODSEQ above a row's) yields exactly the state at the last
// MODSEQ read. Message metadata is immutable and joined afterwards. A
// fresh state this host cached may stand in for the head read of the first
// step (cachedBase says why that keeps the snapshot exact).
//
// Both arguments need reads and writes at quorums that overlap, fallback
// levels or not. Every write a commit consists of or a snapshot combines
// (the Paxos commit, bodies and spilled metadata before it, materialized
// rows, watermarks, bucket pointers) is made at a quorum at least
// (Backend.durable); a read tries the primary level every time and uses
// the read fallback only when that read itself was refused for lack of
// replicas (fallback.go), so a replica that missed writes is read only
// through a quorum once it is back, which repairs it. Reads at the
// fallback level, while a quorum is down, see the replicas left, which
// may lack a write that reached a quorum without them.
//
// # Schema (keyspace names from Options)
//
//	ms_mbox.users        (address) -> id, password_hash, quota_*, mailhost, created,
//	                     fence (users.go; outlives the user's record)
//	ms_mbox.uidvalidity  (user_id) -> next                  LWT counter
//	ms_mbox.mailboxes    ((user_id), name) -> id, uidvalidity, special_use, created
//	                     static: fence (insertRecord; sealed by DeleteUser,
//	                     the partition dropped by the purge once the user is gone)
//	ms_mbox.subscriptions((user_id), name)
//	ms_mbox.mblog        ((mailbox_id, bucket), modseq, uid) -> kind, flags, meta, meta_id, cid
//	                     static: uidnext, head_modseq, messages, unseen, deleted,
//	                     size, rows, sealed, gone, mat_modseq, fence
//	ms_mbox.mbcur        (mailbox_id) -> bucket             hint, USING TIMESTAMP bucket
//	ms_mbox.mbbuckets    ((mailbox_id), first_modseq DESC) -> bucket
//	ms_mbox.metaspill    ((mailbox_id, meta_id)) -> meta    metadata too big to inline
//	ms_mbox.msgs         ((mailbox_id, ubucket), uid) -> modseq, flags, expunged
//	ms_mbox.msgmeta      ((mailbox_id, ubucket), uid) -> meta   immutable
//	                     an expunged message's rows stay until the log
//	                     floor passes its expunge (exptrim.go)
//	ms_mbox.uncertain    ((mailbox_id), blob, cid) -> bucket, modseq, probe, uid, recorded, landed
//	ms_mbox.uncertain_todo ((shard), mailbox_id, blob, cid) -> bucket, modseq, probe, uid, recorded
//	                     the uncertain-writes ledger, default TTL 7 days
//	ms_mbox.gone_mailboxes ((shard), mailbox_id) -> deleted, last_bucket, uidnext
//	                     deleted mailboxes whose rows the purge has yet to drop
//	ms_mbox.logtrim      (mailbox_id) -> floor, floor_bucket, low, mark_modseq, mark_at
//	                     the change log's trimming (logtrim.go)
//	ms_mbox.purge_lease  (name) -> holder               the background purge's host, TTL
//	ms_msg.blobs         (blob_id) -> size, chunk_size, chunks, compression, created
//	                     created: the last claim of a reference (purge.go)
//	ms_msg.blob_purge    (blob_id) -> unref, condemned   the purge's state of a body
//	ms_msg.blob_chunks   ((blob_id, chunk)) -> data         one partition per chunk
//	ms_cache.parts_text  (part_hash) -> converter, text, created   default TTL
//
// Log buckets roll when one holds BucketSize rows: the next committer
// materializes the bucket, seals it by LWT (IF head_modseq = X), and creates
// bucket+1 with the same head (INSERT ... IF NOT EXISTS). Anyone who finds a
// sealed bucket without a successor creates the successor from the sealed
// head. Unmaterialized entries can therefore only be in the current bucket,
// above its watermark mat_modseq (written USING TIMESTAMP <modseq>, so
// it only moves forward).
//
// The package has no package-level mutable state.
package cassandra
