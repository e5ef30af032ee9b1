package cassandra

import (
	"context"
	"fmt"
	"sync"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// entry is one change-log row.
type entry struct {
	modseq int64
	uid    int64
	kind   store.ChangeKind
	flags  []string
	meta   []byte // append: the encoded MessageMeta, inline
	metaID []byte // append: or the key of its metaspill row
	local  []byte // append: spilled metadata this host still holds
	blob   string // append: the body's id, for the uncertain-writes ledger
}

// uidBucket is how many UIDs share a msgs/msgmeta partition.
const uidBucket = 8192

func ubucket(uid int64) int64 { return uid / uidBucket }

// readLog calls fn for each entry of a bucket with after < MODSEQ (and
// MODSEQ <= upto if upto > 0), in (MODSEQ, UID) order.
func (b *Backend) readLog(ctx context.Context, mailboxID string, bucket, after, upto int64, fn func(entry) error) error {
	stmt, args := b.q.logTail, []any{mailboxID, bucket, after}
	if upto > 0 {
		stmt, args = b.q.logTailTo, append(args, upto)
	}
	return b.scan(ctx, b.meta, "read change log", stmt, args, nil, func(sc gocql.Scanner) error {
		var e entry
		var modseq, uid *int64
		var kind *int8
		if err := sc.Scan(&modseq, &uid, &kind, &e.flags, &e.meta, &e.metaID); err != nil {
			return err
		}
		if modseq == nil || uid == nil || kind == nil {
			return nil // the static row of an empty bucket
		}
		e.modseq, e.uid, e.kind = *modseq, *uid, store.ChangeKind(*kind)
		return fn(e)
	})
}

// walk calls fn for every entry with MODSEQ > after, from bucket bk on,
// in (MODSEQ, UID) order, and reports whether it ended at a bucket the
// mailbox's deletion sealed. Each bucket is read with its static columns:
// if they say the bucket is sealed, its rest is read and the walk goes on
// to the next bucket. So the walk misses nothing committed before its last
// read began, and what it returns is a gapless prefix of the log (a commit
// becomes visible only after every lower MODSEQ has).
func (b *Backend) walk(ctx context.Context, mailboxID string, bk, after int64, fn func(entry) error) (gone bool, err error) {
	gone, _, err = b.walkFrom(ctx, mailboxID, bk, after, fn)
	return gone, err
}

// walkFrom is walk, reporting also whether its first bucket was sealed or
// absent as it read it: only such a bucket can be trimmed while it is
// read (logtrim.go).
func (b *Backend) walkFrom(ctx context.Context, mailboxID string, bk, after int64, fn func(entry) error) (gone, startSealed bool, err error) {
	for first := true; ; first = false {
		sealed, gone, exists, err := b.walkBucket(ctx, mailboxID, bk, &after, fn)
		if first {
			startSealed = sealed || !exists
		}
		if err != nil || !sealed || gone {
			return gone, startSealed, err
		}
		if _, _, _, err := b.walkBucket(ctx, mailboxID, bk, &after, fn); err != nil {
			return false, startSealed, err
		}
		bk++
	}
}

// walkBucket reads the entries of bucket bk above *after, advancing it,
// and reports whether the bucket was sealed, and gone, as of the read, and
// whether it exists.
// The query starts AT *after, so that the row there (the usual case: the
// last change before the watermark) brings the static columns along and a
// second read is needed only for a bucket without such a row.
func (b *Backend) walkBucket(ctx context.Context, mailboxID string, bk int64, after *int64, fn func(entry) error) (sealed, gone, exists bool, err error) {
	var rows bool
	from := *after // a commit's rows share its MODSEQ: skip only those at or below from
	err = b.scan(ctx, b.meta, "read change log", b.q.logWalk, []any{mailboxID, bk, *after}, nil, func(sc gocql.Scanner) error {
		var e entry
		var modseq, uid *int64
		var kind *int8
		var s, g *bool
		if err := sc.Scan(&s, &g, &modseq, &uid, &kind, &e.flags, &e.meta, &e.metaID); err != nil {
			return err
		}
		rows = true
		sealed, gone = s != nil && *s, g != nil && *g
		if modseq == nil || uid == nil || kind == nil || *modseq <= from {
			return nil
		}
		e.modseq, e.uid, e.kind = *modseq, *uid, store.ChangeKind(*kind)
		*after = e.modseq
		return fn(e)
	})
	if err != nil || rows {
		return sealed, sealed && gone, rows, err
	}
	st, ok, err := b.readBucket(ctx, b.read.primary, mailboxID, bk)
	return ok && st.sealed, ok && st.sealed && st.gone, ok, err
}

// metaOf returns an append entry's encoded metadata.
func (b *Backend) metaOf(ctx context.Context, mailboxID string, e *entry) ([]byte, error) {
	switch {
	case e.meta != nil:
		return e.meta, nil
	case e.local != nil:
		return e.local, nil
	case e.metaID == nil:
		return nil, fmt.Errorf("cassandra: mailbox %s: log entry %d/%d has no metadata", mailboxID, e.modseq, e.uid)
	}
	var m []byte
	ok, err := b.get(ctx, b.meta, "read message metadata", b.q.spillGet, []any{mailboxID, e.metaID}, &m)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("cassandra: mailbox %s: metadata of UID %d missing (metaspill %x)", mailboxID, e.uid, e.metaID)
	}
	return m, nil
}

// changeOf converts a log entry to a store.Change, with Meta for appends.
func (b *Backend) changeOf(ctx context.Context, mailboxID string, e *entry) (store.Change, error) {
	c := store.Change{ModSeq: mail.ModSeq(e.modseq), UID: mail.UID(e.uid), Kind: e.kind}
	if e.kind != store.ChangeExpunge {
		c.Flags = mail.NewFlags(e.flags...)
	}
	if e.kind == store.ChangeAppend {
		raw, err := b.metaOf(ctx, mailboxID, e)
		if err != nil {
			return c, err
		}
		m, err := store.DecodeMeta(raw)
		if err != nil {
			return c, fmt.Errorf("cassandra: mailbox %s UID %d: %w", mailboxID, e.uid, err)
		}
		c.Meta = &m
	}
	return c, nil
}

// Materialization limits: statements and bytes per unlogged batch (each
// batch is one partition), and batches in flight.
const (
	matBatchStmts = 128
	matBatchBytes = 256 << 10
	matParallel   = 8
)

// materialize writes entries into msgs (mutable state) and msgmeta
// (immutable metadata). Every write is idempotent and carries its MODSEQ
// as timestamp, so any number of writers, in any order, converge on the
// state of the highest MODSEQ.
func (b *Backend) materialize(ctx context.Context, mailboxID string, es []entry) error {
	// A message's state row and its metadata share a partition key (in
	// two tables), so they go to the same replicas in one batch: one
	// request per UID bucket, not two.
	type group struct {
		stmts []gocql.BatchEntry
		bytes int
	}
	groups := map[int64][]*group{}
	add := func(ub int64, stmt string, size int, args ...any) {
		gs := groups[ub]
		if len(gs) == 0 || len(gs[len(gs)-1].stmts) >= matBatchStmts || gs[len(gs)-1].bytes+size > matBatchBytes {
			gs = append(gs, &group{})
			groups[ub] = gs
		}
		g := gs[len(gs)-1]
		g.stmts = append(g.stmts, gocql.BatchEntry{Stmt: stmt, Args: args, Idempotent: true})
		g.bytes += size
	}
	for i := range es {
		e := &es[i]
		ub := ubucket(e.uid)
		switch e.kind {
		case store.ChangeAppend:
			raw, err := b.metaOf(ctx, mailboxID, e)
			if err != nil {
				return err
			}
			add(ub, b.q.stateAppend, 64, mailboxID, ub, e.uid, e.modseq, e.flags, e.modseq)
			add(ub, b.q.metaInsert, len(raw)+64, mailboxID, ub, e.uid, raw)
		case store.ChangeFlags:
			add(ub, b.q.stateFlags, 64, e.modseq, e.modseq, e.flags, mailboxID, ub, e.uid)
		case store.ChangeExpunge:
			add(ub, b.q.stateExpunge, 64, e.modseq, e.modseq, mailboxID, ub, e.uid)
		}
	}
	var all []*group
	for _, gs := range groups {
		all = append(all, gs...)
	}
	errs := make([]error, len(all))
	sem := make(chan struct{}, matParallel)
	var wg sync.WaitGroup
	for i, g := range all {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = b.sup.Do("cassandra: materialize messages", func() error {
				return b.do(ctx, b.write, "materialize messages", b.durable, always, func(c gocql.Consistency) error {
					if len(g.stmts) == 1 {
						s := g.stmts[0]
						return b.sendErr(ctx, s.Stmt, c, func() error {
							return b.meta.Query(s.Stmt, s.Args...).Consistency(c).Idempotent(true).SetSpeculativeExecutionPolicy(b.spec).ExecContext(ctx)
						})
					}
					bt := b.meta.Batch(gocql.UnloggedBatch).Consistency(c)
					bt.Entries = g.stmts
					_, err := b.send(ctx, sent{stmt: g.stmts[0].Stmt, c: c, batch: bt}, func() (bool, error) {
						return false, bt.SpeculativeExecutionPolicy(b.spec).ExecContext(ctx)
					})
					return err
				})
			}, "mailbox", mailboxID)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// setWatermark records that every entry of bucket with MODSEQ <= m is
// materialized. Written with timestamp m, it only ever moves forward.
func (b *Backend) setWatermark(ctx context.Context, mailboxID string, bucket, m int64) error {
	return b.execDurable(ctx, b.meta, "record materialization", b.q.watermark, m, m, mailboxID, bucket)
}
