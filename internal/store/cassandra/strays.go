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
// leaves the head alone. DeleteUser lists the user's mailboxes and then
// deletes each: a mailbox created meanwhile keeps its record under a user
// that no longer exists, and its creator may append to it. Neither is in
// gone_mailboxes, so the deleted mailboxes' purge never finds their rows.
//
// PurgeStrays lists the log's partition keys (SELECT DISTINCT, in
// PurgeSlices token ranges, like the bodies' listing), after the pass's
// mark scan listed every user's mailboxes; a mailbox it names that the
// scan did not list, and that gone_mailboxes (read after the listing)
// does not list either, is a candidate. A mailbox created after the scan
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

// PurgeStrays implements store.StrayPurger.
func (b *Backend) PurgeStrays(ctx context.Context, before time.Time, listed func(string) bool, dryRun bool) (int64, error) {
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

var _ store.StrayPurger = (*Backend)(nil)
