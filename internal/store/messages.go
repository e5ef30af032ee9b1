package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// NewMessage is a message to append whose body is already stored.
type NewMessage struct {
	Blob         BlobID
	Size         int64
	Structure    []byte // message.Part, marshaled
	InternalDate time.Time
	Flags        mail.Flags
	ReturnPath   string
	EmailID      string // "" gets a fresh EMAILID (RFC 8474)
}

// Append adds messages to mb, in order, with ascending UIDs, after checking
// the owner's quota. Up to Backend.MaxChangesPerCommit messages become
// visible in one Commit, sharing one MODSEQ.
func (s *Store) Append(ctx context.Context, u User, mb Mailbox, msgs ...NewMessage) ([]mail.UID, error) {
	return s.add(ctx, u, mb, false, msgs)
}

// add is Append; delivery tells the index hook the messages came by LMTP.
func (s *Store) add(ctx context.Context, u User, mb Mailbox, delivery bool, msgs []NewMessage) ([]mail.UID, error) {
	var total int64
	for _, m := range msgs {
		total += m.Size
	}
	if err := s.checkQuota(ctx, u, int64(len(msgs)), total); err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC().Truncate(timeUnit)
	metas := make([]MessageMeta, len(msgs))
	flags := make([]mail.Flags, len(msgs))
	for i, m := range msgs {
		if m.EmailID == "" {
			m.EmailID = "M" + newID()[:24]
		}
		date := m.InternalDate
		if date.IsZero() {
			date = now
		}
		metas[i] = MessageMeta{
			Blob: m.Blob, Size: m.Size, InternalDate: date.UTC().Truncate(timeUnit), SaveDate: now,
			ReturnPath: m.ReturnPath, EmailID: m.EmailID, Structure: m.Structure,
		}
		flags[i] = storableFlags(m.Flags)
	}
	return s.appendMetas(ctx, mb, metas, flags, delivery)
}

// appendMetas commits metas in chunks and returns their UIDs.
func (s *Store) appendMetas(ctx context.Context, mb Mailbox, metas []MessageMeta, flags []mail.Flags, delivery bool) ([]mail.UID, error) {
	uids := make([]mail.UID, 0, len(metas))
	var added []MessageRow // for the index hook: what it would read back
	if s.index != nil && len(metas) > 0 {
		// A delivery marked the mailbox already (deliverOne, beside its
		// read of the uncertain-writes ledger).
		if !delivery {
			if err := s.markUnindexed(ctx, mb); err != nil {
				return nil, err
			}
		}
		defer func() {
			if len(added) > 0 {
				s.index.Added(ctx, mb, added, delivery)
			}
		}()
	}
	step := max(1, s.b.MaxChangesPerCommit())
	// The caller claimed the bodies just before (PutBody, or copy's
	// claimBlobs): the purge keeps them for the grace (purge.go).
	claimed := s.opts.Now()
	for off := 0; off < len(metas); off += step {
		end := min(off+step, len(metas))
		var got []mail.UID
		var head Head
		attempt := 0
		err := s.commitRetry(ctx, "store: append", func() error {
			if err := s.reclaim(ctx, metas[off:end], &claimed); err != nil {
				return err
			}
			h, err := s.writerHead(ctx, mb.ID, &attempt)
			if err != nil {
				return err
			}
			next := h
			next.ModSeq++
			changes := make([]Change, 0, end-off)
			got = got[:0]
			for i := off; i < end; i++ {
				uid := next.UIDNext
				next.UIDNext++
				next.add(metas[i].Size, flags[i], 1)
				m := metas[i]
				changes = append(changes, Change{ModSeq: next.ModSeq, UID: uid, Kind: ChangeAppend, Flags: flags[i], Meta: &m})
				got = append(got, uid)
			}
			head = next
			return s.b.Commit(ctx, mb.ID, h, next, changes)
		})
		if err != nil {
			return uids, err
		}
		uids = append(uids, got...)
		if s.index != nil {
			for i, uid := range got {
				added = append(added, MessageRow{UID: uid, Meta: metas[off+i]})
			}
		}
		s.usage.committed(mb.UserID, mb.ID, head)
		s.publish(mb, head.ModSeq)
	}
	return uids, nil
}

// reclaim claims the bodies of metas again if the last claim, at
// *claimed, is older than half the purge's grace: the purge relies on a
// claim's commit following it within the grace (ARCHITECTURE.md, "Purge"),
// and commits retried under contention, or a slow quota read, can take
// long. With no grace configured (0) the store does not know it, and does
// nothing.
func (s *Store) reclaim(ctx context.Context, metas []MessageMeta, claimed *time.Time) error {
	g := s.opts.PurgeGrace
	now := s.opts.Now()
	if g <= 0 || now.Sub(*claimed) <= g/2 {
		return nil
	}
	if err := s.claimBlobs(ctx, metas); err != nil {
		return err
	}
	*claimed = now
	return nil
}

// markUnindexed records, before a commit adds messages to mb, that the
// index may lack some of mb's messages (IndexQueue).
func (s *Store) markUnindexed(ctx context.Context, mb Mailbox) error {
	return s.b.MarkUnindexed(ctx, Unindexed{Group: mb.MailHost, UserID: mb.UserID, MailboxID: mb.ID, Marked: s.opts.Now()})
}

// writerHead returns the head a writer commits against: on its first
// attempt the backend's hint, if it has one, and the stored head after.
func (s *Store) writerHead(ctx context.Context, mailboxID string, attempt *int) (Head, error) {
	*attempt++
	if hh, ok := s.b.(HeadHinter); ok && *attempt == 1 {
		if h, ok := hh.HeadHint(mailboxID); ok {
			return h, nil
		}
	}
	return s.b.Head(ctx, mailboxID)
}

// add adjusts the counts for n messages of size bytes with flags fs
// arriving (n = 1) or leaving (n = -1).
func (h *Head) add(size int64, fs mail.Flags, n int64) {
	h.Messages += n
	h.Size += n * size
	if !fs.Has(mail.FlagSeen) {
		h.Unseen += n
	}
	if fs.Has(mail.FlagDeleted) {
		h.Deleted += n
	}
}

// storableFlags drops \Recent, which is a session property (RFC 3501 2.3.2).
func storableFlags(fs mail.Flags) mail.Flags {
	return mail.NewFlags(fs...).Minus(mail.Flags{`\Recent`})
}

// FlagOp says how StoreFlags combines flags (RFC 9051 6.4.6).
type FlagOp int

// Flag operations.
const (
	FlagsReplace FlagOp = iota // FLAGS
	FlagsAdd                   // +FLAGS
	FlagsRemove                // -FLAGS
)

// StoreResult reports what StoreFlags did.
type StoreResult struct {
	// Rows are the messages as they stand after the operation, changed or
	// not, in UID order.
	Rows []MessageRow
	// Modified are UIDs not changed because their MODSEQ exceeded the
	// UNCHANGEDSINCE value (RFC 7162 3.1.3).
	Modified []mail.UID
}

// StoreFlags changes the flags of the messages with the given UIDs. UIDs
// that do not exist are ignored. unchangedSince 0 means no condition. A
// message whose flags do not change keeps its MODSEQ.
func (s *Store) StoreFlags(ctx context.Context, mb Mailbox, uids []mail.UID, op FlagOp, fs mail.Flags, unchangedSince mail.ModSeq) (StoreResult, error) {
	fs = storableFlags(fs)
	var res StoreResult
	err := s.forChunks(ctx, mb, uids, "store: flags", func(h Head, rows []MessageRow) (Head, []Change, func()) {
		next := h
		next.ModSeq++
		var changes []Change
		var part StoreResult
		for _, r := range rows {
			if unchangedSince > 0 && r.ModSeq > unchangedSince {
				part.Modified = append(part.Modified, r.UID)
				continue
			}
			var nf mail.Flags
			switch op {
			case FlagsReplace:
				nf = fs
			case FlagsAdd:
				nf = r.Flags.Union(fs)
			case FlagsRemove:
				nf = r.Flags.Minus(fs)
			}
			if nf.Equal(r.Flags) {
				part.Rows = append(part.Rows, r)
				continue
			}
			next.add(r.Meta.Size, r.Flags, -1)
			next.add(r.Meta.Size, nf, 1)
			c := Change{ModSeq: next.ModSeq, UID: r.UID, Kind: ChangeFlags, Flags: nf}
			changes = append(changes, c)
			part.Rows = append(part.Rows, c.Row(r))
		}
		return next, changes, func() {
			res.Rows = append(res.Rows, part.Rows...)
			res.Modified = append(res.Modified, part.Modified...)
		}
	})
	slices.SortFunc(res.Rows, func(a, b MessageRow) int { return int(a.UID) - int(b.UID) })
	return res, err
}

// Expunge removes the messages with the given UIDs and returns the UIDs it
// removed. Each expunge is logged with its MODSEQ (RFC 7162 3.2.10).
func (s *Store) Expunge(ctx context.Context, mb Mailbox, uids []mail.UID) ([]mail.UID, error) {
	var gone []mail.UID
	err := s.forChunks(ctx, mb, uids, "store: expunge", func(h Head, rows []MessageRow) (Head, []Change, func()) {
		next := h
		next.ModSeq++
		changes := make([]Change, 0, len(rows))
		for _, r := range rows {
			next.add(r.Meta.Size, r.Flags, -1)
			changes = append(changes, Change{ModSeq: next.ModSeq, UID: r.UID, Kind: ChangeExpunge})
		}
		return next, changes, func() {
			for _, c := range changes {
				gone = append(gone, c.UID)
			}
		}
	})
	if s.index != nil && len(gone) > 0 {
		s.index.Expunged(mb, gone)
	}
	return gone, err
}

// forChunks reads the rows of uids in chunks of at most MaxChangesPerCommit
// and commits what fn computes for each chunk: the new head, the changes,
// and a function that records the chunk's results, called only once the
// chunk is committed (or had nothing to commit).
func (s *Store) forChunks(ctx context.Context, mb Mailbox, uids []mail.UID, op string,
	fn func(Head, []MessageRow) (Head, []Change, func())) error {
	uids = slices.Clone(uids)
	slices.Sort(uids)
	uids = slices.Compact(uids)
	step := max(1, s.b.MaxChangesPerCommit())
	for off := 0; off < len(uids); off += step {
		chunk := uids[off:min(off+step, len(uids))]
		var next Head
		var changes []Change
		var record func()
		attempt := 0
		err := s.commitRetry(ctx, op, func() error {
			h, err := s.writerHead(ctx, mb.ID, &attempt)
			if err != nil {
				return err
			}
			rows, err := s.rows(ctx, mb, chunk)
			if err != nil {
				return err
			}
			next, changes, record = fn(h, rows)
			if len(changes) == 0 {
				return nil
			}
			return s.b.Commit(ctx, mb.ID, h, next, changes)
		})
		if err != nil {
			return err
		}
		record()
		if len(changes) > 0 {
			s.usage.committed(mb.UserID, mb.ID, next)
			s.publish(mb, next.ModSeq)
		}
	}
	return nil
}

// rows returns the live rows among the sorted uids.
func (s *Store) rows(ctx context.Context, mb Mailbox, uids []mail.UID) ([]MessageRow, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	var out []MessageRow
	i := 0
	err := s.b.Messages(ctx, mb.ID, uids[0], uids[len(uids)-1], func(r MessageRow) error {
		for i < len(uids) && uids[i] < r.UID {
			i++
		}
		if i < len(uids) && uids[i] == r.UID {
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// Messages calls fn for each message of mb with lo <= UID <= hi (hi 0: no bound).
func (s *Store) Messages(ctx context.Context, mb Mailbox, lo, hi mail.UID, fn func(MessageRow) error) error {
	return s.b.Messages(ctx, mb.ID, lo, hi, fn)
}

// States calls fn for each message of mb with lo <= UID <= hi (hi 0: no
// bound), without metadata: the cheap listing for SELECT and EXPUNGE.
func (s *Store) States(ctx context.Context, mb Mailbox, lo, hi mail.UID, fn func(MessageState) error) error {
	return s.b.States(ctx, mb.ID, lo, hi, fn)
}

// Select returns mb's head and calls fn for each of its messages, without
// metadata (SELECT and EXAMINE): as Status then States, so the head is no
// newer than the messages, but in fewer round trips where the backend can
// (HeadStater).
func (s *Store) Select(ctx context.Context, mb Mailbox, fn func(MessageState) error) (Head, error) {
	if hs, ok := s.b.(HeadStater); ok {
		return hs.HeadStates(ctx, mb.ID, fn)
	}
	h, err := s.b.Head(ctx, mb.ID)
	if err != nil {
		return h, err
	}
	return h, s.b.States(ctx, mb.ID, 1, 0, fn)
}

// GetText reads the converter's cache (convert.Cache): text by content
// hash, from ms_cache or the embedded data directory.
func (s *Store) GetText(ctx context.Context, hash []byte) (kind, text string, ok bool, err error) {
	return s.b.GetText(ctx, hash)
}

// PutText writes the converter's cache.
func (s *Store) PutText(ctx context.Context, hash []byte, kind, text string) error {
	return s.b.PutText(ctx, hash, kind, text)
}

// Changes calls fn for each change of mb after since, in MODSEQ order, or
// fails with ErrLogTrimmed when the log no longer reaches back to since
// (logtrim.go): the caller then resynchronizes from the message rows.
func (s *Store) Changes(ctx context.Context, mb Mailbox, since mail.ModSeq, fn func(Change) error) error {
	return s.b.Changes(ctx, mb.ID, since, fn)
}

// Copy appends to dst the messages of src with the given UIDs, sharing their
// bodies, and returns source and destination UIDs pairwise (RFC 4315 COPYUID).
func (s *Store) Copy(ctx context.Context, owner User, src, dst Mailbox, uids []mail.UID) (from, to []mail.UID, err error) {
	return s.copy(ctx, owner, src, dst, uids, true)
}

func (s *Store) copy(ctx context.Context, owner User, src, dst Mailbox, uids []mail.UID, quota bool) (from, to []mail.UID, err error) {
	uids = slices.Clone(uids)
	slices.Sort(uids)
	rows, err := s.rows(ctx, src, slices.Compact(uids))
	if err != nil || len(rows) == 0 {
		return nil, nil, err
	}
	var total int64
	now := s.opts.Now().UTC().Truncate(timeUnit)
	metas := make([]MessageMeta, len(rows))
	flags := make([]mail.Flags, len(rows))
	for i, r := range rows {
		total += r.Meta.Size
		metas[i], flags[i] = r.Meta, r.Flags
		metas[i].SaveDate = now
		from = append(from, r.UID)
	}
	if quota {
		if err := s.checkQuota(ctx, owner, int64(len(rows)), total); err != nil {
			return nil, nil, err
		}
	}
	// The copies are new references to the bodies: claim them first,
	// so that a purge racing this copy cannot free them (purge.go).
	if err := s.claimBlobs(ctx, metas); err != nil {
		return nil, nil, err
	}
	to, err = s.appendMetas(ctx, dst, metas, flags, false)
	if err != nil {
		return nil, nil, err
	}
	return from, to, nil
}

// Move copies, then expunges the originals (RFC 6851). A crash between the
// two leaves the message in both mailboxes, never in neither. Moving within
// one user's mailboxes does not change usage, so quota is not checked.
//
// Two sessions may move one message at once: both copy it, and one
// expunge takes it. The loser's copies are expunged again, so a message
// is moved once, and the loser's result leaves out what it did not move
// (none at all: NO [EXPUNGEISSUED] to its client). Without this, a
// message moved away and back meanwhile ended up in both mailboxes
// (bench/stress).
func (s *Store) Move(ctx context.Context, owner User, src, dst Mailbox, uids []mail.UID) (from, to []mail.UID, err error) {
	from, to, err = s.copy(ctx, owner, src, dst, uids, false)
	if err != nil {
		return nil, nil, err
	}
	gone, err := s.Expunge(ctx, src, from)
	if err != nil {
		return nil, nil, fmt.Errorf("store: move: copied, but expunging the originals failed: %w", err)
	}
	if len(gone) == len(from) {
		return from, to, nil
	}
	slices.Sort(gone)
	var movedFrom, movedTo, extra []mail.UID
	for i, u := range from {
		if _, ok := slices.BinarySearch(gone, u); ok {
			movedFrom, movedTo = append(movedFrom, u), append(movedTo, to[i])
		} else {
			extra = append(extra, to[i])
		}
	}
	if _, err := s.Expunge(ctx, dst, extra); err != nil {
		return nil, nil, fmt.Errorf("store: move: another session moved or expunged the originals first, and removing the extra copies failed: %w", err)
	}
	return movedFrom, movedTo, nil
}
