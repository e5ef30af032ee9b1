package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/quiremail/quire/internal/mail"
)

// The check (`quire check`, ARCHITECTURE.md "Check and repair") verifies
// what the store derives from the message rows against a recount of them,
// online:
//
//   - each mailbox's head: MESSAGES, unseen, \Deleted and size equal the
//     recount; UIDNEXT is above every UID of a row or of the log;
//     HIGHESTMODSEQ is at least every MODSEQ of a row or of the log;
//   - the change log against the rows: each live row has a log entry at
//     its MODSEQ (append or flags, with its flags), and a UID whose last
//     entry is not an expunge has a row;
//   - each referenced body is stored, and, with Bodies, hashes to its id;
//   - the user's quota usage as this Store has it cached for deliveries
//     equals the sum of the recounts (compared only when no commit was
//     recorded meanwhile; without a cache, deliveries read the heads).
//
// Repair fixes what is derived and nothing else. A head is rewritten from
// the recount; a row without its log entry, or live after its expunge, is
// "touched": a flags change to the flags it has, at a new MODSEQ, so the
// log describes it again (a CONDSTORE client sees FETCH FLAGS it already
// knows); a UID the log shows live with no row gets an expunge entry (the
// row is gone, the log says so). No row is ever deleted, and a missing
// body is reported, not repaired: nothing derived can bring it back.
//
// Every repair is one compare-and-set Commit from the head the recount was
// made against, so a repair never overwrites a concurrent change: on a
// conflict the mailbox is counted again (up to checkAttempts times).

// checkAttempts bounds how often a mailbox is counted again because it
// changed during its count.
const checkAttempts = 8

// Finding is one thing the check found wrong.
type Finding struct {
	User    string `json:"user"`
	Mailbox string `json:"mailbox,omitempty"`
	// Kind is head, log, body, hash, index or usage.
	Kind     string `json:"kind"`
	UID      uint32 `json:"uid,omitempty"`
	Detail   string `json:"detail"`
	Repaired bool   `json:"repaired,omitempty"`
}

func (f Finding) String() string {
	where := f.User
	if f.Mailbox != "" {
		where += " " + f.Mailbox
	}
	if f.UID != 0 {
		where += fmt.Sprintf(" uid %d", f.UID)
	}
	s := fmt.Sprintf("%s: %s: %s", f.Kind, where, f.Detail)
	if f.Repaired {
		s += " (repaired)"
	}
	return s
}

// IndexChecker checks a mailbox's search index against its live UIDs
// (and, with repair, fixes it); the server supplies it from its search
// engine and indexer, which the store does not know.
type IndexChecker func(ctx context.Context, mb Mailbox, live []mail.UID, repair bool, report func(Finding)) error

// CheckOptions configure a check.
type CheckOptions struct {
	Repair bool
	// Bodies hashes every referenced body (reads all of them).
	Bodies bool
	// Index, when set, checks the search index of each mailbox.
	Index IndexChecker
	// Progress, when set, is called after each mailbox.
	Progress func(done, total int)
}

// CheckReport sums up a check.
type CheckReport struct {
	Mailboxes int64     `json:"mailboxes"`
	Messages  int64     `json:"messages"`
	Bodies    int64     `json:"bodies"`
	Findings  []Finding `json:"findings"`
	Repaired  int64     `json:"repaired"`
	Skipped   int64     `json:"skipped"` // mailboxes too busy to count
}

// Check checks u's mailboxes (see above).
func (s *Store) Check(ctx context.Context, u User, opt CheckOptions) (CheckReport, error) {
	var rep CheckReport
	report := func(f Finding) {
		f.User = u.Address
		if f.Repaired {
			rep.Repaired++
		}
		rep.Findings = append(rep.Findings, f)
	}
	_, gen, _ := s.usage.cached(u.ID, s.opts.Now())
	mbs, err := s.b.ListMailboxes(ctx, u.ID)
	if err != nil {
		return rep, err
	}
	bodies := map[BlobID]bool{}
	var total Usage
	for i, mb := range mbs {
		mb.MailHost = u.MailHost
		c, err := s.checkMailbox(ctx, mb, opt, report)
		if err != nil {
			return rep, fmt.Errorf("store: check %s: %w", mb.Name, err)
		}
		if c.skipped {
			rep.Skipped++
			report(Finding{Mailbox: mb.Name, Kind: "head", Detail: "changed during every count; not checked (run again when quieter)"})
		}
		rep.Mailboxes++
		rep.Messages += c.count.Messages
		total.Messages += c.count.Messages
		total.Storage += c.count.Size
		for _, id := range c.blobs {
			if _, seen := bodies[id]; seen {
				continue
			}
			bodies[id] = true
			rep.Bodies++
			if err := s.checkBody(ctx, mb, id, c.uidOf[id], opt.Bodies, report); err != nil {
				return rep, err
			}
		}
		if opt.Index != nil && !c.skipped {
			if err := opt.Index(ctx, mb, c.live, opt.Repair, func(f Finding) { f.Mailbox = mb.Name; report(f) }); err != nil {
				return rep, fmt.Errorf("store: check the index of %s: %w", mb.Name, err)
			}
		}
		if opt.Progress != nil {
			opt.Progress(i+1, len(mbs))
		}
	}
	// The usage deliveries are checked against is the cache, when this
	// Store has the user's (else the heads, checked above). It is
	// compared only if no commit was recorded during the recount.
	if us, gen2, ok := s.usage.cached(u.ID, s.opts.Now()); ok && gen2 == gen && rep.Skipped == 0 && us != total {
		if opt.Repair {
			s.usage.dropUser(u.ID) // read again from the heads
		}
		report(Finding{Kind: "usage", Repaired: opt.Repair,
			Detail: fmt.Sprintf("quota usage cached as %d messages, %d bytes; recount %d messages, %d bytes", us.Messages, us.Storage, total.Messages, total.Storage)})
	}
	return rep, nil
}

// mailboxCount is what the check counted in one mailbox.
type mailboxCount struct {
	count   Head
	live    []mail.UID
	blobs   []BlobID
	uidOf   map[BlobID]mail.UID
	skipped bool
}

// checkMailbox counts mb and checks its head and log against the count,
// repairing if asked; it counts again when the mailbox changed meanwhile.
func (s *Store) checkMailbox(ctx context.Context, mb Mailbox, opt CheckOptions, report func(Finding)) (mailboxCount, error) {
	for attempt := 0; attempt < checkAttempts; attempt++ {
		c, found, err := s.countMailbox(ctx, mb, opt.Repair)
		if errors.Is(err, errMoved) || errors.Is(err, mail.ErrConflict) {
			continue
		}
		if err != nil {
			return c, err
		}
		for _, f := range found {
			f.Mailbox = mb.Name
			report(f)
		}
		return c, nil
	}
	return mailboxCount{skipped: true}, nil
}

// errMoved says the mailbox's head moved during a count.
var errMoved = errors.New("store: the mailbox changed during the check")

// logState is the last log entry of one UID.
type logState struct {
	last   Change
	atRows bool // an append/flags entry matches the row's MODSEQ and flags
}

// countMailbox makes one count of mb and, with repair, commits the fixes
// against the head it counted from.
func (s *Store) countMailbox(ctx context.Context, mb Mailbox, repair bool) (mailboxCount, []Finding, error) {
	c := mailboxCount{uidOf: map[BlobID]mail.UID{}}
	h, err := s.b.Head(ctx, mb.ID)
	if err != nil {
		return c, nil, err
	}
	rows := map[mail.UID]MessageRow{}
	var maxUID mail.UID
	var maxMod mail.ModSeq
	err = s.b.Messages(ctx, mb.ID, 1, 0, func(r MessageRow) error {
		rows[r.UID] = MessageRow{UID: r.UID, ModSeq: r.ModSeq, Flags: r.Flags, Meta: MessageMeta{Blob: r.Meta.Blob, Size: r.Meta.Size}}
		c.count.add(r.Meta.Size, r.Flags, 1)
		c.live = append(c.live, r.UID)
		if _, ok := c.uidOf[r.Meta.Blob]; !ok {
			c.uidOf[r.Meta.Blob] = r.UID
			c.blobs = append(c.blobs, r.Meta.Blob)
		}
		maxUID, maxMod = max(maxUID, r.UID), max(maxMod, r.ModSeq)
		return nil
	})
	if err != nil {
		return c, nil, err
	}
	// The log is replayed from its floor (logtrim.go): a row at or below
	// the floor needs no entry, its changes having been trimmed.
	logs := map[mail.UID]*logState{}
	floor, err := s.changesFromFloor(ctx, mb.ID, 0, func() { clear(logs) }, func(ch Change) error {
		st := logs[ch.UID]
		if st == nil {
			st = &logState{}
			logs[ch.UID] = st
		}
		st.last = Change{ModSeq: ch.ModSeq, UID: ch.UID, Kind: ch.Kind, Flags: ch.Flags}
		if r, ok := rows[ch.UID]; ok && ch.Kind != ChangeExpunge && ch.ModSeq == r.ModSeq && r.Flags.Equal(ch.Flags) {
			st.atRows = true
		}
		maxUID, maxMod = max(maxUID, ch.UID), max(maxMod, ch.ModSeq)
		return nil
	})
	if err != nil {
		return c, nil, err
	}
	if h2, err := s.b.Head(ctx, mb.ID); err != nil {
		return c, nil, err
	} else if h2.ModSeq != h.ModSeq {
		return c, nil, errMoved
	}
	var found []Finding
	var touch, gone []mail.UID
	for _, uid := range c.live {
		r, st := rows[uid], logs[uid]
		switch {
		case st == nil && r.ModSeq <= floor:
		case st == nil || !st.atRows && st.last.Kind != ChangeExpunge:
			found = append(found, Finding{Kind: "log", UID: uint32(uid), Detail: fmt.Sprintf("no log entry for the row at MODSEQ %d", r.ModSeq)})
			touch = append(touch, uid)
		case st.last.Kind == ChangeExpunge:
			found = append(found, Finding{Kind: "log", UID: uint32(uid), Detail: fmt.Sprintf("row live after its expunge at MODSEQ %d", st.last.ModSeq)})
			touch = append(touch, uid)
		}
	}
	for uid, st := range logs {
		if _, ok := rows[uid]; !ok && st.last.Kind != ChangeExpunge {
			found = append(found, Finding{Kind: "log", UID: uint32(uid), Detail: fmt.Sprintf("the log's last entry (%s at MODSEQ %d) leaves a message the rows do not have", st.last.Kind, st.last.ModSeq)})
			gone = append(gone, uid)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i] < gone[j] })
	want := h
	want.Messages, want.Unseen, want.Deleted, want.Size = c.count.Messages, c.count.Unseen, c.count.Deleted, c.count.Size
	want.UIDNext = max(h.UIDNext, maxUID+1)
	want.ModSeq = max(h.ModSeq, maxMod)
	if want != h {
		found = append(found, Finding{Kind: "head", Detail: fmt.Sprintf("head %s; recount %s", headString(h), headString(want))})
	}
	c.count.UIDNext, c.count.ModSeq = want.UIDNext, want.ModSeq
	if !repair || len(found) == 0 {
		return c, found, nil
	}
	if err := s.repairMailbox(ctx, mb, h, want, rows, touch, gone); err != nil {
		return c, nil, err
	}
	for i := range found {
		found[i].Repaired = true
	}
	return c, found, nil
}

func headString(h Head) string {
	return fmt.Sprintf("MESSAGES %d unseen %d deleted %d size %d UIDNEXT %d HIGHESTMODSEQ %d", h.Messages, h.Unseen, h.Deleted, h.Size, h.UIDNext, h.ModSeq)
}

// repairMailbox commits the recounted head want, with a touch of each
// UID of touch and an expunge entry for each of gone, from the head prev
// the count was made against: mail.ErrConflict if the mailbox moved.
// Changes beyond one Commit's bound are committed in several, each
// against the head the one before left.
func (s *Store) repairMailbox(ctx context.Context, mb Mailbox, prev, want Head, rows map[mail.UID]MessageRow, touch, gone []mail.UID) error {
	var changes []Change
	for _, uid := range touch {
		changes = append(changes, Change{UID: uid, Kind: ChangeFlags, Flags: rows[uid].Flags})
	}
	for _, uid := range gone {
		changes = append(changes, Change{UID: uid, Kind: ChangeExpunge})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].UID < changes[j].UID })
	step := max(1, s.b.MaxChangesPerCommit())
	next := want
	for off := 0; off == 0 || off < len(changes); off += step {
		part := changes[off:min(off+step, len(changes))]
		next.ModSeq++
		for i := range part {
			part[i].ModSeq = next.ModSeq
		}
		if err := s.b.Commit(ctx, mb.ID, prev, next, part); err != nil {
			return err
		}
		prev = next
	}
	s.usage.committed(mb.UserID, mb.ID, next)
	s.publish(mb, next.ModSeq)
	return nil
}

// checkBody reports a referenced body that is missing or, with hash, does
// not hash to its id.
func (s *Store) checkBody(ctx context.Context, mb Mailbox, id BlobID, uid mail.UID, hash bool, report func(Finding)) error {
	missing := Finding{Mailbox: mb.Name, Kind: "body", UID: uint32(uid), Detail: fmt.Sprintf("body %s is missing (not repairable: restore it from a backup)", id)}
	if !hash {
		ok, err := s.b.HasBlob(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			report(missing)
		}
		return nil
	}
	b, err := s.b.OpenBlob(ctx, id)
	if errors.Is(err, mail.ErrNoBlob) {
		report(missing)
		return nil
	}
	if err != nil {
		return err
	}
	defer b.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(b, 0, b.Size())); err != nil {
		report(Finding{Mailbox: mb.Name, Kind: "hash", UID: uint32(uid), Detail: fmt.Sprintf("body %s cannot be read: %v", id, err)})
		return nil
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != string(id) {
		report(Finding{Mailbox: mb.Name, Kind: "hash", UID: uint32(uid), Detail: fmt.Sprintf("body %s hashes to %s (damaged; not repairable)", id, got)})
	}
	return nil
}
