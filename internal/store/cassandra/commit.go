package cassandra

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

const (
	// maxChanges bounds one Commit: the Paxos proposal stays small.
	maxChanges = 64
	// Encoded metadata up to inlineMax bytes rides in the log row, while
	// the commit's inline total stays under inlineTotal; larger metadata
	// is written to metaspill before the LWT, and the row refers to it.
	// Cassandra exempts single-partition batches from
	// batch_size_fail_threshold (CASSANDRA-10876; checked on 5.0 with a
	// 120 KB conditional batch), so the bound here is about keeping Paxos
	// proposals and log partitions small, not about that threshold.
	inlineMax   = 16 << 10
	inlineTotal = 192 << 10
	// watermarkLag is how far the materialized watermark may trail the
	// head before a committer catches it up.
	watermarkLag = 16
	// watermarkEvery: the watermark is stored when the head's MODSEQ is a
	// multiple of it (and after a catch-up).
	watermarkEvery = 8
)

// MaxChangesPerCommit implements store.Index.
func (b *Backend) MaxChangesPerCommit() int { return maxChanges }

// Commit implements store.Index: one conditional batch on the current log
// bucket sets the head IF head_modseq = prev.ModSeq AND the bucket is not
// sealed, and inserts the change rows. An unknown outcome (a timeout, or
// "unavailable" at the commit level, which Cassandra reports after Paxos
// accepted the proposal) is settled by reading the first change's row at
// serial consistency; the commit is never re-sent.
func (b *Backend) Commit(ctx context.Context, mailboxID string, prev, next store.Head, changes []store.Change) error {
	if len(changes) > maxChanges {
		return fmt.Errorf("cassandra: commit of %d changes: at most %d", len(changes), maxChanges)
	}
	l := b.commitLock(mailboxID)
	l.Lock()
	unlock := sync.OnceFunc(l.Unlock)
	defer unlock()
	st, err := b.base(ctx, mailboxID, prev)
	if err != nil {
		return err
	}
	if st.rows >= int64(b.opts.BucketSize) {
		if st, err = b.roll(ctx, mailboxID, st); err != nil {
			return err
		}
	}
	es, err := b.entries(ctx, mailboxID, changes)
	if err != nil {
		return err
	}
	applied, err := b.lwt(ctx, mailboxID, st, prev, next, es, unlock)
	if err != nil {
		return err
	}
	if !applied {
		// The head moved, or the bucket was sealed by a roll or a delete:
		// the caller reads the head again, which tells which.
		b.heads.drop(mailboxID)
		return mail.ErrConflict
	}
	done := bucketState{bucket: st.bucket, head: next, rows: st.rows + int64(len(es)), mat: st.mat, from: st.from, fence: st.fence}
	b.heads.put(mailboxID, done)
	b.materializeLater(ctx, mailboxID, st, next, es)
	return nil
}

// materializeLater materializes a landed commit in the background: the
// commit is durable and visible once its LWT returned, and every reader
// overlays the log above the watermark, so nobody needs the materialized
// rows before Commit returns (it saves the writer a round trip and lets
// this host's next commit to the mailbox take the lock sooner). Called
// under the commit lock, it queues behind the mailbox's earlier
// materializations (matQueue), so they run in commit order and each
// starts from the watermark the one before left: the watermark follows
// the head as when materializing was part of the commit. The watermark
// this host caches rises only once the rows are written, so it stays a
// true lower bound; the next commit's afterCommit catches up what a
// failed materialization left. Close waits for it.
func (b *Backend) materializeLater(ctx context.Context, mailboxID string, st bucketState, next store.Head, es []entry) {
	wait, done := b.mats.enqueue(mailboxID)
	b.bg.Add(1)
	go func() {
		defer b.bg.Done()
		defer done()
		if wait != nil {
			<-wait
		}
		if cur, ok := b.heads.get(mailboxID); ok && cur.bucket == st.bucket {
			st.mat = max(st.mat, min(cur.mat, int64(st.head.ModSeq)))
		}
		mctx, cancel := context.WithTimeout(background(context.WithoutCancel(ctx)), 3*b.opts.RequestTimeout)
		defer cancel()
		_ = b.sup.Do("cassandra: materialize a commit", func() error {
			b.heads.raise(mailboxID, st.bucket, b.afterCommit(mctx, mailboxID, st, next, es))
			return nil
		}, "mailbox", mailboxID)
	}()
}

// matQueue orders each mailbox's background materializations.
type matQueue struct {
	mu   sync.Mutex
	last map[string]chan struct{}
}

// enqueue returns what to wait for before materializing (nil: nothing)
// and what to call after.
func (q *matQueue) enqueue(id string) (wait <-chan struct{}, done func()) {
	ch := make(chan struct{})
	q.mu.Lock()
	if q.last == nil {
		q.last = map[string]chan struct{}{}
	}
	if prev, ok := q.last[id]; ok {
		wait = prev
	}
	q.last[id] = ch
	q.mu.Unlock()
	return wait, func() {
		close(ch)
		q.mu.Lock()
		if q.last[id] == ch {
			delete(q.last, id)
		}
		q.mu.Unlock()
	}
}

// lwt runs Commit's conditional batch: the head's static columns IF
// head_modseq = prev AND NOT sealed AND the bucket's fence is the one st
// read, and the log rows, the first tagged with a random commit id. An
// unknown outcome is settled by landed behind a fence (fenced): one that
// did not land never will, and is a conflict (the caller may retry). Settling may
// take until the caller's deadline, so release (the commit lock) is called
// first: this host's other commits to the mailbox go on meanwhile, on a
// head they read afresh, and their LWT completes or supersedes ours.
func (b *Backend) lwt(ctx context.Context, mailboxID string, st bucketState, prev, next store.Head, es []entry, release func()) (bool, error) {
	var cid [16]byte
	_, _ = rand.Read(cid[:])
	op := "commit to mailbox " + mailboxID
	var applied bool
	err := b.do(ctx, b.write, op, b.durable, never, func(c gocql.Consistency) error {
		bt := b.meta.Batch(gocql.LoggedBatch).Consistency(c).SerialConsistency(b.serial)
		bt.Query(b.q.headCommit, int64(next.UIDNext), int64(next.ModSeq), next.Messages, next.Unseen, next.Deleted, next.Size,
			st.rows+int64(len(es)), mailboxID, st.bucket, int64(prev.ModSeq), fenceArg(st.fence))
		for i, e := range es {
			var id []byte
			if i == 0 {
				id = cid[:]
			}
			bt.Query(b.q.logInsert, mailboxID, st.bucket, e.modseq, e.uid, int8(e.kind), e.flags, e.meta, e.metaID, id)
		}
		b.lwts.Add(1)
		var err error
		applied, err = b.send(ctx, sent{stmt: b.q.headCommit, c: c, cas: true, batch: bt}, func() (bool, error) {
			ok, it, err := bt.MapExecCASContext(ctx, map[string]any{})
			if it != nil {
				_ = it.Close()
			}
			return ok, err
		})
		return err
	})
	if err == nil || refused(err) {
		return applied, err
	}
	b.heads.drop(mailboxID)
	release()
	landed, err := b.settle(ctx, op, err, b.fenced(mailboxID, st.bucket, func(ctx context.Context, c gocql.Consistency) (bool, error) {
		return b.landed(ctx, c, mailboxID, st.bucket, prev, next, es, cid[:])
	}))
	if err != nil {
		// Still unknown: a retry of these appends must find them
		// (uncertain.go).
		return false, b.recordUncertain(ctx, mailboxID, st.bucket, es, cid[:], err)
	}
	return landed, nil
}

// landed reads, at serial consistency c, whether our uncertain commit is
// in the log: the first change's row carries our commit id.
func (b *Backend) landed(ctx context.Context, c gocql.Consistency, mailboxID string, bucket int64, prev, next store.Head, es []entry, cid []byte) (bool, error) {
	if len(es) == 0 {
		st, ok, err := b.readBucket(ctx, c, mailboxID, bucket)
		return ok && st.head == next && prev.ModSeq != next.ModSeq, err
	}
	return b.logRowIs(ctx, c, mailboxID, bucket, es[0].modseq, es[0].uid, cid)
}

// logRowIs reads, at serial consistency c, whether the log row at
// (modseq, uid) of bucket carries commit id cid.
func (b *Backend) logRowIs(ctx context.Context, c gocql.Consistency, mailboxID string, bucket, modseq, uid int64, cid []byte) (bool, error) {
	var got []byte
	err := b.serialGet(ctx, c, b.q.logRowSerial, []any{mailboxID, bucket, modseq, uid}, &got)
	if err == gocql.ErrNotFound {
		return false, nil
	}
	return err == nil && bytes.Equal(got, cid), err
}

// base returns the current bucket's state for a commit on prev: this
// host's cached state if it is at prev, else a fresh read.
func (b *Backend) base(ctx context.Context, mailboxID string, prev store.Head) (bucketState, error) {
	if st, ok := b.heads.get(mailboxID); ok && !st.sealed {
		switch {
		case st.head.ModSeq == prev.ModSeq:
			return st, nil
		case st.head.ModSeq > prev.ModSeq:
			return st, mail.ErrConflict // this host saw the head move on already
		}
	}
	st, err := b.current(ctx, mailboxID)
	if err != nil {
		return st, err
	}
	if st.head.ModSeq != prev.ModSeq {
		return st, mail.ErrConflict
	}
	return st, nil
}

// entries encodes changes as log rows. Metadata too large to inline is
// written to metaspill first, under an id derived from the mailbox, UID,
// MODSEQ and the metadata itself: a rival commit of the same UID with
// other metadata gets another id, so a losing writer never overwrites the
// winner's metadata.
func (b *Backend) entries(ctx context.Context, mailboxID string, changes []store.Change) ([]entry, error) {
	es := make([]entry, len(changes))
	var spill []int
	inline := 0
	for i, c := range changes {
		e := &es[i]
		e.modseq, e.uid, e.kind = int64(c.ModSeq), int64(c.UID), c.Kind
		if c.Kind != store.ChangeExpunge {
			e.flags = append([]string{}, c.Flags...)
		}
		if c.Kind != store.ChangeAppend {
			continue
		}
		if c.Meta == nil {
			return nil, fmt.Errorf("cassandra: append of UID %d without metadata", c.UID)
		}
		e.blob = string(c.Meta.Blob)
		raw := store.EncodeMeta(*c.Meta)
		if len(raw) <= inlineMax && inline+len(raw) <= inlineTotal {
			e.meta, inline = raw, inline+len(raw)
			continue
		}
		h := sha256.New()
		h.Write([]byte(mailboxID))
		h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, uint64(c.UID)), uint64(c.ModSeq)))
		h.Write(raw)
		e.metaID, e.local = h.Sum(nil)[:16], raw
		spill = append(spill, i)
	}
	errs := make([]error, len(spill))
	var wg sync.WaitGroup
	for k, i := range spill {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = b.sup.Do("cassandra: write message metadata", func() error {
				return b.execDurable(ctx, b.meta, "write message metadata", b.q.spillInsert, mailboxID, es[i].metaID, es[i].local)
			}, "mailbox", mailboxID)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return es, nil
}

// afterCommit materializes a landed commit and returns the watermark it
// leaves. Failures are logged, not returned: the commit is durable in the
// log, and readers overlay what is not materialized yet.
func (b *Backend) afterCommit(ctx context.Context, mailboxID string, st bucketState, next store.Head, own []entry) int64 {
	todo := own
	// An empty bucket has nothing to materialize: all before it was, by
	// the roll that opened it.
	atHead := st.mat >= int64(st.head.ModSeq) || st.rows == 0
	catchUp := !atHead && int64(next.ModSeq)-st.mat > watermarkLag
	if catchUp {
		var older []entry
		err := b.readLog(ctx, mailboxID, st.bucket, st.mat, int64(st.head.ModSeq), func(e entry) error {
			older = append(older, e)
			return nil
		})
		if err != nil {
			b.log.Warn("cassandra: materialize: read log", "mailbox", mailboxID, "err", err)
			return st.mat
		}
		todo = append(older, own...)
	}
	if err := b.materialize(ctx, mailboxID, todo); err != nil {
		b.log.Warn("cassandra: materialize", "mailbox", mailboxID, "err", err)
		return st.mat
	}
	if !atHead && !catchUp {
		return st.mat
	}
	// Every entry up to next is materialized now: that is what the cache
	// records, whether or not a watermark write lands. The stored
	// watermark only shortens other hosts' log tails, so it is written
	// every watermarkEvery MODSEQs and after a catch-up, not at every
	// commit: one write per commit less, and other hosts' tails at most
	// that much longer. (This runs in the background: materializeLater.)
	m := int64(next.ModSeq)
	if catchUp || m%watermarkEvery == 0 {
		if err := b.setWatermark(ctx, mailboxID, st.bucket, m); err != nil {
			b.log.Warn("cassandra: materialize: watermark", "mailbox", mailboxID, "err", err)
		}
	}
	return m
}

// roll moves the head of a full bucket st into a new bucket: materialize
// every entry of st, seal it IF its head is still st's, open the next.
func (b *Backend) roll(ctx context.Context, mailboxID string, st bucketState) (bucketState, error) {
	var es []entry
	if err := b.readLog(ctx, mailboxID, st.bucket, st.mat, 0, func(e entry) error {
		es = append(es, e)
		return nil
	}); err != nil {
		return st, err
	}
	if err := b.materialize(ctx, mailboxID, es); err != nil {
		return st, err
	}
	applied, _, err := b.cas(ctx, "seal log bucket", b.q.headSeal, []any{mailboxID, st.bucket, int64(st.head.ModSeq)},
		func(ctx context.Context, c gocql.Consistency) (bool, error) {
			got, ok, err := b.readBucket(ctx, c, mailboxID, st.bucket)
			return ok && got.sealed && !got.gone && got.head == st.head, err
		})
	if err != nil {
		return st, err
	}
	if !applied {
		b.heads.drop(mailboxID)
		return st, mail.ErrConflict
	}
	st.sealed = true
	if err := b.openBucket(ctx, mailboxID, st); err != nil {
		if errors.Is(err, mail.ErrUnavailable) {
			return st, err
		}
		return st, fmt.Errorf("cassandra: roll log of %s: %w", mailboxID, err)
	}
	next := bucketState{bucket: st.bucket + 1, head: st.head, mat: int64(st.head.ModSeq), from: int64(st.head.ModSeq)}
	b.heads.put(mailboxID, next)
	return next, nil
}
