package cassandra

import (
	"context"
	"fmt"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// goneState is a message's state as Expunged replays it.
type goneState struct {
	modseq   int64
	flags    []string
	flagsAt  int64 // the MODSEQ of the change that set flags
	expunged bool
	add      *entry // the append entry, if the log tail holds it
}

// Expunged implements store.Index. An expunge marks the message's state
// row (msgs.expunged, with the expunge's MODSEQ; its flags stay) and
// leaves its metadata in msgmeta, which is immutable. An expunge not
// materialized yet is in the log tail, as may be the message's append and
// flag changes: so, as Messages does, read the head, the state rows, then
// the log from the watermark, and replay the tail over the rows. The
// rows of a message expunged at or below the log floor are gone
// (exptrim.go), and it is skipped as unknown.
//
// An expunged row's MODSEQ is the expunge's, but its flags may be older
// than the last flag change before it: materializations run per host in
// the background, so the expunge can be materialized (by its host) before
// a flag change committed earlier (by another host, or one whose
// materialization failed). The flags' own MODSEQ is their write time
// (every state write is USING TIMESTAMP <modseq>), so the tail's flag
// changes above it are replayed even below the row's MODSEQ.
func (b *Backend) Expunged(ctx context.Context, mailboxID string, uids []mail.UID, fn func(store.MessageRow) error) error {
	if len(uids) == 0 {
		return nil
	}
	lo, hi := int64(uids[0]), int64(uids[len(uids)-1])
	want := make(map[int64]bool, len(uids))
	for _, u := range uids {
		want[int64(u)] = true
	}
	st, err := b.current(ctx, mailboxID)
	if err != nil {
		return err
	}
	rows, err := b.goneRows(ctx, mailboxID, lo, hi, want)
	if err != nil {
		return err
	}
	tail := map[int64][]entry{}
	_, err = b.walk(ctx, mailboxID, st.bucket, st.mat, func(e entry) error {
		if want[e.uid] {
			tail[e.uid] = append(tail[e.uid], e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	var gone []int64
	states := map[int64]*goneState{}
	for _, u := range uids {
		if s := replayGone(rows[int64(u)], tail[int64(u)]); s != nil && s.expunged {
			gone = append(gone, int64(u))
			states[int64(u)] = s
		}
	}
	if len(gone) == 0 {
		return nil
	}
	metas, err := b.metas(ctx, mailboxID, gone[0], gone[len(gone)-1])
	if err != nil {
		return err
	}
	for _, u := range gone {
		s := states[u]
		raw := metas[u]
		if raw == nil {
			if s.add == nil {
				continue // metadata not found: the caller reports the message missing
			}
			if raw, err = b.metaOf(ctx, mailboxID, s.add); err != nil {
				return err
			}
		}
		meta, err := store.DecodeMeta(raw)
		if err != nil {
			return fmt.Errorf("cassandra: mailbox %s UID %d: %w", mailboxID, u, err)
		}
		if err := fn(store.MessageRow{UID: mail.UID(u), ModSeq: mail.ModSeq(s.modseq), Flags: mail.NewFlags(s.flags...), Meta: meta}); err != nil {
			return err
		}
	}
	return nil
}

// replayGone applies a message's tail entries (in MODSEQ order) to its
// state row. A tail that holds the append holds every later change too
// (the tail is a gapless suffix of the log), so it is replayed alone: a
// state row written while the append was still being materialized may
// lack its flags. Flags and the expunge are replayed each against its own
// MODSEQ: an expunge materialized while an earlier flag change was not
// (its write failed, and a later commit catches it up) leaves a row at
// the expunge's MODSEQ with the flags from before that change.
func replayGone(row *goneState, es []entry) *goneState {
	cur := row
	for i := range es {
		if es[i].kind == store.ChangeAppend {
			cur = nil
		}
	}
	for i := range es {
		e := &es[i]
		switch {
		case e.kind == store.ChangeAppend:
			cur = &goneState{modseq: e.modseq, flags: e.flags, flagsAt: e.modseq, add: e}
		case cur == nil:
		case e.kind == store.ChangeFlags && e.modseq > cur.flagsAt:
			cur.modseq, cur.flags, cur.flagsAt = max(cur.modseq, e.modseq), e.flags, e.modseq
		case e.modseq <= cur.modseq:
		case e.kind == store.ChangeExpunge:
			cur.modseq, cur.expunged = max(cur.modseq, e.modseq), true
		}
	}
	return cur
}

// goneRows reads the state rows of the wanted UIDs within lo..hi,
// expunged or not.
func (b *Backend) goneRows(ctx context.Context, mailboxID string, lo, hi int64, want map[int64]bool) (map[int64]*goneState, error) {
	out := map[int64]*goneState{}
	for ub := ubucket(lo); ub <= ubucket(hi); ub++ {
		err := b.scan(ctx, b.meta, "read expunged messages", b.q.goneRange,
			[]any{mailboxID, ub, max(lo, ub*uidBucket), min(hi, (ub+1)*uidBucket-1)}, nil, func(sc gocql.Scanner) error {
				var uid int64
				var modseq, flagsAt *int64
				var flags []string
				var expunged *bool
				if err := sc.Scan(&uid, &modseq, &flags, &flagsAt, &expunged); err != nil {
					return err
				}
				if want[uid] && modseq != nil && expunged != nil {
					s := &goneState{modseq: *modseq, flags: flags, expunged: *expunged}
					if flagsAt != nil {
						s.flagsAt = *flagsAt
					}
					out[uid] = s
				}
				return nil
			})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
