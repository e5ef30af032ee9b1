package backup

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/quiremail/quire/internal/imapclient"
)

// fetcher reads the bodies of one mailbox's messages for importFolder,
// which asks for them in UID order from the first it has not imported,
// in batches: one "UID FETCH first:last (UID BODY.PEEK[])" for up to
// maxN messages whose RFC822.SIZEs add up to at most maxBytes (a larger
// message alone), its responses read as they arrive, each body handed on
// (and so spooled and stored) before the next is read. The range
// first:last holds only the batch's messages: msgs is every message the
// mailbox had, so a UID between two of them was expunged before and
// never comes back, and mail delivered since gets UIDs above them all.
//
// Resuming needs nothing of the fetcher: importFolder commits what it
// has read in batches of its own with AppendAt, whose UIDNEXT says where
// a later run starts; what a cut batch had delivered past the last
// commit is fetched again then.
type fetcher struct {
	c        *imapclient.Client
	msgs     []imapclient.Message // the mailbox's, UIDs ascending (FetchMeta)
	maxN     int
	maxBytes int64

	// The batch: msgs[start:end], its responses still being read from
	// stream (nil once read to the end).
	start, end int
	stream     *imapclient.Bodies
	// early holds bodies of the batch the server sent before the one
	// asked for (a server may answer in any order), at most maxBytes.
	early      map[uint32][]byte
	earlyBytes int64
}

// body returns the bytes of msgs[i], fetching the batch that starts with
// it unless the batch being read holds it.
func (f *fetcher) body(i int) ([]byte, error) {
	uid := f.msgs[i].UID
	if i < f.start || i >= f.end {
		if err := f.close(); err != nil {
			return nil, err
		}
		if err := f.fetch(i); err != nil {
			return nil, err
		}
	}
	if b, ok := f.early[uid]; ok {
		delete(f.early, uid)
		f.earlyBytes -= int64(len(b))
		return b, nil
	}
	for f.stream != nil {
		m, err := f.stream.Next()
		if errors.Is(err, io.EOF) {
			f.stream = nil
			break
		}
		if err != nil {
			return nil, err
		}
		if m.UID == uid {
			return m.Body, nil
		}
		// A later message of the batch is kept until asked for; an earlier
		// one (sent twice) or one outside the batch is passed over.
		if j := f.index(m.UID); j > i && j < f.end {
			if f.early == nil {
				f.early = map[uint32][]byte{}
			}
			f.early[m.UID] = m.Body
			if f.earlyBytes += int64(len(m.Body)); f.earlyBytes > f.maxBytes {
				return nil, fmt.Errorf("the server sends the messages of UID FETCH %d:%d out of UID order, past the batch's %d bytes: fetch smaller batches", f.msgs[f.start].UID, f.msgs[f.end-1].UID, f.maxBytes)
			}
		}
	}
	return nil, fmt.Errorf("UID %d: the server sent no body (expunged meanwhile?): run the import again", uid)
}

// fetch sends the UID FETCH of the batch that starts with msgs[i].
func (f *fetcher) fetch(i int) error {
	j, size := i+1, max(f.msgs[i].Size, 0)
	for j < len(f.msgs) && j-i < f.maxN && size+max(f.msgs[j].Size, 0) <= f.maxBytes {
		size += max(f.msgs[j].Size, 0)
		j++
	}
	stream, err := f.c.FetchBodies(f.msgs[i].UID, f.msgs[j-1].UID)
	if err != nil {
		return err
	}
	f.start, f.end, f.stream = i, j, stream
	return nil
}

// close ends the batch: what the server still sends of it is read and
// dropped, so that the connection can carry the next command.
func (f *fetcher) close() error {
	f.start, f.end, f.early, f.earlyBytes = 0, 0, nil, 0
	if f.stream == nil {
		return nil
	}
	s := f.stream
	f.stream = nil
	return s.Drain()
}

// index returns the position of uid in msgs, or -1.
func (f *fetcher) index(uid uint32) int {
	j := sort.Search(len(f.msgs), func(k int) bool { return f.msgs[k].UID >= uid })
	if j < len(f.msgs) && f.msgs[j].UID == uid {
		return j
	}
	return -1
}
