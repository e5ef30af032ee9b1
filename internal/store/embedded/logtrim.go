package embedded

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// The change log's trimming (store.LogTrimmer). TrimLog deletes a
// mailbox's change entries up to a MODSEQ F (a range deletion) and writes
// in their place the floor marker c/mailboxID/F/0: UID 0 is never a
// message's, and the marker is the lowest key of the log. So Changes from
// since < F meets the marker first and fails with store.ErrLogTrimmed
// without a read of its own, while Changes from since >= F starts past
// it. The deletion, the marker and the trim state (l/mailboxID: floor,
// mark MODSEQ, mark time) are one batch, and a Changes reads one Pebble
// snapshot: it sees the log before the trim or after it, never between.
//
// The expunged rows kept for Expunged (x/) whose expunge is at or below F
// go in the same batch: a session whose view predates the floor
// resynchronizes from the rows and no longer asks for them.

// logTrimKey is the key of a mailbox's trim state.
func logTrimKey(mbID string) []byte { return append([]byte(pLogTrim), mbID...) }

func encodeLogTrim(st store.LogTrimState) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(st.Floor))
	v = binary.BigEndian.AppendUint64(v, uint64(st.Mark.ModSeq))
	return binary.BigEndian.AppendUint64(v, uint64(st.Mark.At.UnixMilli()))
}

func decodeLogTrim(v []byte) (store.LogTrimState, error) {
	if len(v) != 24 {
		return store.LogTrimState{}, errCorrupt
	}
	return store.LogTrimState{
		Floor: mail.ModSeq(binary.BigEndian.Uint64(v)),
		Mark: store.LogMark{ModSeq: mail.ModSeq(binary.BigEndian.Uint64(v[8:])),
			At: time.UnixMilli(int64(binary.BigEndian.Uint64(v[16:])))},
	}, nil
}

// LogTrim implements store.LogTrimmer.
func (b *Backend) LogTrim(_ context.Context, mailboxID string) (store.LogTrimState, error) {
	v, ok, err := b.get(logTrimKey(mailboxID))
	if err != nil || !ok {
		return store.LogTrimState{}, err
	}
	return decodeLogTrim(v)
}

// TrimLog implements store.LogTrimmer, under the mailbox's commit lock so
// that it never writes a marker into a mailbox deleted meanwhile.
func (b *Backend) TrimLog(_ context.Context, mailboxID string, r store.TrimRequest) (store.TrimCounts, error) {
	var n store.TrimCounts
	l := b.mailboxLock(mailboxID)
	l.Lock()
	defer l.Unlock()
	if _, ok, err := b.get(headKey(mailboxID)); err != nil {
		return n, err
	} else if !ok {
		return n, mail.ErrNoSuchMailbox
	}
	st, err := b.LogTrim(context.Background(), mailboxID)
	if err != nil {
		return n, err
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	if r.Upto > st.Floor {
		p := changePrefix(mailboxID)
		end := changeKey(mailboxID, r.Upto+1, 0)
		if err := b.scan(p, end, func(k, _ []byte) error {
			if len(k) == len(p)+12 && binary.BigEndian.Uint32(k[len(p)+8:]) != 0 {
				n.Entries++
			}
			return nil
		}); err != nil {
			return n, err
		}
		gp := gonePrefix(mailboxID)
		if err := b.scan(gp, prefixEnd(gp), func(k, v []byte) error {
			if len(k) != len(gp)+4 {
				return errCorrupt
			}
			row, err := decodeState(mail.UID(binary.BigEndian.Uint32(k[len(gp):])), v)
			if err != nil {
				return err
			}
			if row.ModSeq <= r.Upto {
				n.Expunged++
				_ = batch.Delete(k, nil)
			}
			return nil
		}); err != nil {
			return n, err
		}
		// Batch operations apply in order: the marker outlives the range
		// deletion that precedes it.
		_ = batch.DeleteRange(p, end, nil)
		_ = batch.Set(changeKey(mailboxID, r.Upto, 0), nil, nil)
		st.Floor = r.Upto
	}
	if r.DryRun {
		return n, nil
	}
	st.Mark = r.Next
	_ = batch.Set(logTrimKey(mailboxID), encodeLogTrim(st), nil)
	if err := batch.Commit(b.wsync); err != nil {
		return store.TrimCounts{}, mail.Unavailable("embedded: trim the change log", err)
	}
	return n, nil
}

var _ store.LogTrimmer = (*Backend)(nil)
