package cassandra

import (
	"context"
	"fmt"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
)

// Stray mailboxes (store.StrayPurger): a log no mailbox record reaches.
// CreateMailbox writes the head (log bucket 0) first, then the record,
// each by LWT; a creation that stops between (its host dies, the record's
// write fails, or another creation of the same name wins the record)
// leaves the head alone. A creation that raced its user's deletion on an
// older release (whose DeleteUser did not seal the user's records first,
// sealRecords) kept its record under a user that no longer exists, and its
// creator may append to it. Neither is in gone_mailboxes, so the deleted
// mailboxes' purge never finds their rows.
//
// PurgeStrays lists the log's partition keys (SELECT DISTINCT, in
// PurgeSlices token ranges, like the bodies' listing), after the pass's
// mark scan listed every user's mailboxes; a mailbox it names that the
// scan did not list, that gone_mailboxes (read after the listing) does
// not list either, and that no record names when the records are read
// again at a quorum (the mark scan reads at the configured level, which
// may be ONE: TestStrayNeedsNoRecordAtQuorum), is a candidate. A mailbox created after the scan
// has a head newer than the bound, and a deleted one is listed in
// gone_mailboxes before its record goes; so a candidate whose current
// bucket's head was last written before the bound (the pass's start less
// the grace: a creation, like any write, finishes within the grace, and
// every commit rewrites the head) is reached by no record and written by
// no one. It is then handled as a deleted mailbox: listed in
// gone_mailboxes, its log sealed gone (a session that still holds it gets
// mail.ErrNoSuchMailbox), and a pass the grace later drops its partitions
// (purge_mailboxes.go). The bodies it referenced are the body purge's:
// the mark scan never read them.

// PurgeStrays implements store.StrayPurger: the stray logs, then the
// per-user partitions of users that are gone (goneUsers).
func (b *Backend) PurgeStrays(ctx context.Context, before time.Time, listed func(string) bool, dryRun bool) (int64, error) {
	n, err := b.strayLogs(ctx, before, listed, dryRun)
	if err != nil {
		return n, err
	}
	return n, b.goneUsers(ctx, before, dryRun)
}

// strayLogs finds and seals the stray logs (see above).
func (b *Backend) strayLogs(ctx context.Context, before time.Time, listed func(string) bool, dryRun bool) (int64, error) {
	cands := map[string]bool{}
	err := b.slices(ctx, b.meta, "list mailbox logs", b.q.logKeys, func(sc gocql.Scanner) error {
		var id string
		var bk int64
		if err := sc.Scan(&id, &bk); err != nil {
			return err
		}
		if !listed(id) {
			cands[id] = true
		}
		return nil
	})
	if err != nil || len(cands) == 0 {
		return 0, err
	}
	for shard := range goneShards {
		err := b.scan(ctx, b.meta, "list deleted mailboxes", b.q.goneList, []any{shard}, nil, func(sc gocql.Scanner) error {
			var id string
			var deleted time.Time
			var last, uidnext *int64
			if err := sc.Scan(&id, &deleted, &last, &uidnext); err != nil {
				return err
			}
			delete(cands, id)
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	if len(cands) == 0 {
		return 0, nil
	}
	// The mark scan listed the records at the configured read level; a
	// replica that missed a record (a level of ONE) would make a live
	// mailbox a candidate, and sealing it would lose its mail. So the
	// records are read again, at a quorum at least, before anything is
	// sealed: a full read of the records table, paid only in a pass that
	// found candidates.
	err = b.scanAt(ctx, b.meta, "list mailbox records", b.q.recIDs, nil, nil, true, func(sc gocql.Scanner) error {
		var id *string
		if err := sc.Scan(&id); err != nil {
			return err
		}
		if id != nil {
			delete(cands, *id)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	var n int64
	for id := range cands {
		stray, err := b.isStray(ctx, id, before)
		if err != nil {
			return n, fmt.Errorf("cassandra: mailbox %s: %w", id, err)
		}
		if !stray {
			continue
		}
		n++
		if dryRun {
			continue
		}
		b.log.Warn("cassandra: purge: no mailbox record reaches this mailbox's log (a creation that stopped half-way, or raced its user's deletion); dropping it as a deleted mailbox",
			"mailbox", id)
		if err := b.listGone(ctx, id); err != nil {
			return n, err
		}
		if err := b.markGone(ctx, id); err != nil {
			return n, err
		}
	}
	return n, nil
}

// isStray reports whether the log of mailbox id exists, is not sealed
// gone, and its current bucket's head was last written before before.
func (b *Backend) isStray(ctx context.Context, id string, before time.Time) (bool, error) {
	var hint int64
	if _, err := b.get(ctx, b.meta, "read mailbox head", b.q.curGet, []any{id}, &hint); err != nil {
		return false, err
	}
	bk := hint
	for ; ctx.Err() == nil; bk++ {
		st, ok, err := b.readBucket(ctx, b.read.primary, id, bk)
		switch {
		case err != nil:
			return false, err
		case !ok && bk == hint:
			return false, nil // no head: purged meanwhile
		case !ok:
			bk-- // a roll stopped before it opened bk: bk-1 is the last
		case st.gone:
			return false, nil
		case st.sealed:
			continue
		}
		break
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var wt *int64 // null: no head written there; not dated, so kept
	ok, err := b.get(ctx, b.meta, "read the age of a mailbox head", b.q.headAge, []any{id, bk}, &wt)
	return ok && wt != nil && *wt < before.UnixMicro(), err
}

// The partitions of a user that is gone. DeleteUser deletes each record,
// the subscriptions and the UIDVALIDITY counter, the user, then seals
// the user's mailbox records (their fence, sealRecords) and deletes the
// records that landed meanwhile: it leaves the sealed fence (and records,
// if it failed after the user went), and a session still holding the
// user may write its subscriptions and its UIDVALIDITY counter again (a
// CREATE reads the counter before the seal refuses its record). A deletion by an older
// release, or one an older host raced, may also leave records: a mailbox
// created meanwhile, whose log strayLogs finds. None of these is read
// again, and nothing else would delete them.
//
// goneUsers lists the users' ids, at a quorum at least and without
// fallback (a user a read of one replica missed would lose its records;
// users are written by LWT, committed at a quorum), then the
// partition keys of mailboxes, uidvalidity and subscriptions (SELECT
// DISTINCT in PurgeSlices token ranges), and deletes each partition of a
// user not listed, USING TIMESTAMP before (the pass's start less the
// grace), which removes only cells written before it. A user's partitions
// are written after its record (CreateUser returns first), so a user
// created after the listing has only cells newer than the bound, which
// the delete spares; a user listed is spared whole. The records' fence
// need not outlive the user as the user's fence does: a user id is never
// used again, so a record insert still queued from before the seal that
// lands after the fence's deletion (a write that outlived the grace,
// which the purge's argument excludes) only writes a record nothing
// reads, which a later pass deletes again; a user's address, which a
// late write to a deleted user's row would bring back, is reused.
//
// Tombstones: one partition tombstone a partition, in partitions nothing
// reads but the key listings, which meet one per user deleted within
// gc_grace_seconds (as the bodies' listing meets the bodies freed). The
// records partition is read first, to count and date its records: it
// holds a row tombstone per record the user's deletion and earlier
// DELETEs removed, which every LIST of the user read too. A dry run
// deletes nothing.
func (b *Backend) goneUsers(ctx context.Context, before time.Time, dryRun bool) error {
	users := map[string]struct{}{}
	err := b.scanAt(ctx, b.meta, "list user ids", b.q.userIDs, nil, func() { clear(users) }, true,
		func(sc gocql.Scanner) error {
			var id string
			if err := sc.Scan(&id); err != nil {
				return err
			}
			if id != "" { // "": the fence of a deleted user's record
				users[id] = struct{}{}
			}
			return nil
		})
	if err != nil {
		return err
	}
	at := before.UnixMicro()
	for _, t := range []struct{ what, keys, drop string }{
		{"mailbox records", b.q.recKeys, b.q.recDrop},
		{"UIDVALIDITY counter", b.q.uidvKeys, b.q.uidvDrop},
		{"subscriptions", b.q.subKeys, b.q.subDrop},
	} {
		var gone []string
		err := b.slices(ctx, b.meta, "list the users of "+t.what, t.keys, func(sc gocql.Scanner) error {
			var id string
			if err := sc.Scan(&id); err != nil {
				return err
			}
			if _, ok := users[id]; !ok {
				gone = append(gone, id)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range gone {
			if t.drop == b.q.recDrop {
				old, err := b.goneRecords(ctx, id, at, dryRun)
				if err != nil {
					return err
				}
				if !old {
					continue // a user deleted within the grace
				}
			}
			if dryRun {
				continue
			}
			if err := b.exec(ctx, b.meta, b.del, "drop the "+t.what+" of deleted user "+id, t.drop, at, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// goneRecords reads the records partition of user id, which is gone, and
// reports whether it holds a cell written before at (microseconds): a
// record (logged: a mailbox created as its user was deleted) or the fence.
func (b *Backend) goneRecords(ctx context.Context, id string, at int64, dryRun bool) (bool, error) {
	var recs, young int
	var fenced bool
	err := b.scan(ctx, b.meta, "read the mailbox records of deleted user "+id, b.q.recAges, []any{id},
		func() { recs, young, fenced = 0, 0, false },
		func(sc gocql.Scanner) error {
			var mb string
			var wt, ft *int64
			if err := sc.Scan(&mb, &wt, &ft); err != nil {
				return err
			}
			fenced = fenced || ft != nil && *ft < at
			switch {
			case mb == "" || wt == nil: // the partition's fence alone
			case *wt < at:
				recs++
			default:
				young++
			}
			return nil
		})
	if err != nil {
		return false, err
	}
	if recs > 0 {
		b.log.Warn("cassandra: purge: mailbox records under a user that no longer exists (creations that raced its deletion); a pass drops them",
			"user", id, "records", recs, "newer_kept", young, "dry_run", dryRun)
	}
	return recs > 0 || fenced, nil
}

var _ store.StrayPurger = (*Backend)(nil)
