package bleveindex

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
)

// Large answers are what SEARCH pays for: a common word is in most of a
// mailbox. bleve's searchers and collector cost per hit (a heap entry, a
// stored _id decompressed and copied), which at 100,000 messages made a
// query that matches 80,000 of them take 140-360 ms. The query of
// search.Plan is a few boolean operations on posting lists, so it is run
// here on scorch's segments themselves, with roaring bitmaps:
//
//	scope  = postings(box = user/mailbox) minus the segment's deleted docs
//	field  = scope AND (OR of postings of the terms of p) for each p
//	answer = OR of field over the asked fields
//
// where the terms of p are the words of the vocabulary with a suffix
// beginning with p (vocab.go), found in the segment's dictionary by
// walking it with their trie (termSet).
//
// and a segment's document numbers become UIDs through uidCache.
// Segments are immutable, so a document number names one document for
// the life of its segment.

// snapshotSearch answers a plan on the index's current snapshot; ok is
// false when the index is not scorch (then the caller asks bleve).
func (x *Index) snapshotSearch(ctx context.Context, box string, sets []*termSet, fields []string) (_ []uint32, ok bool, err error) {
	adv, err := x.idx.Advanced()
	if err != nil {
		return nil, false, fmt.Errorf("bleve: open the index: %w", err)
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, false, fmt.Errorf("bleve: open a reader: %w", err)
	}
	defer r.Close()
	snap, isScorch := r.(*scorch.IndexSnapshot)
	if !isScorch {
		return nil, false, nil
	}
	segs := snap.Segments()
	x.uids.retain(segs)
	out := roaring.New() // sorts the UIDs as they come
	for _, ss := range segs {
		if err := ctx.Err(); err != nil {
			return nil, true, err
		}
		hits, err := segmentHits(ss, box, sets, fields)
		if err != nil {
			return nil, true, err
		}
		if hits.IsEmpty() {
			continue
		}
		if err := x.uids.of(ss, hits, out, func(id string) ([]uint32, error) { return x.liveUIDs(id, box) }); err != nil {
			return nil, true, err
		}
	}
	return out.ToArray(), true, nil
}

// segmentHits is the plan's answer in one segment, as document numbers.
func segmentHits(ss *scorch.SegmentSnapshot, box string, sets []*termSet, fields []string) (*roaring.Bitmap, error) {
	seg := ss.Segment()
	scope, err := termBitmap(seg, "box", box)
	if err != nil || scope.IsEmpty() {
		return scope, err
	}
	if del := ss.Deleted(); del != nil {
		scope.AndNot(del)
	}
	out := roaring.New()
	for _, f := range fields {
		d, err := seg.Dictionary(f)
		if err != nil {
			return nil, fmt.Errorf("bleve: field %s: %w", f, err)
		}
		acc := scope
		for _, ts := range sets {
			if acc.IsEmpty() {
				break
			}
			pb, err := setBitmap(d, ts)
			if err != nil {
				return nil, fmt.Errorf("bleve: field %s: %w", f, err)
			}
			acc = roaring.And(acc, pb)
		}
		out.Or(acc)
	}
	return out, nil
}

// termBitmap is a fresh bitmap of one term's postings.
func termBitmap(seg segment.Segment, field, term string) (*roaring.Bitmap, error) {
	d, err := seg.Dictionary(field)
	if err != nil {
		return nil, fmt.Errorf("bleve: field %s: %w", field, err)
	}
	out := roaring.New()
	pl, err := d.PostingsList([]byte(term), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("bleve: postings of %s: %w", field, err)
	}
	return out, addPostings(out, pl)
}

// setBitmap is the union of the postings of the terms of ts.
func setBitmap(d segment.TermDictionary, ts *termSet) (*roaring.Bitmap, error) {
	out := roaring.New()
	if ts.empty() {
		return out, nil
	}
	it := d.AutomatonIterator(ts, ts.first, ts.end())
	var pl segment.PostingsList
	for {
		e, err := it.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		if pl, err = d.PostingsList([]byte(e.Term), nil, pl); err != nil {
			return nil, err
		}
		if err := addPostings(out, pl); err != nil {
			return nil, err
		}
	}
}

// prefixEnd is the first key after every key beginning with prefix; nil
// when there is none.
func prefixEnd(prefix string) []byte {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return b[:i+1]
		}
	}
	return nil
}

// addPostings adds a posting list's document numbers to out: its bitmap
// when the segment exposes it (zap does), else one posting at a time.
// The segment's bitmaps are shared and never modified here.
func addPostings(out *roaring.Bitmap, pl segment.PostingsList) error {
	it := pl.Iterator(false, false, false, nil)
	if o, ok := it.(segment.OptimizablePostingsIterator); ok {
		if n, one := o.DocNum1Hit(); one {
			out.Add(uint32(n))
			return nil
		}
		if bm := o.ActualBitmap(); bm != nil {
			out.Or(bm)
		}
		return nil
	}
	for {
		p, err := it.Next()
		if err != nil || p == nil {
			return err
		}
		out.Add(uint32(p.Number()))
	}
}

// uidCache maps a segment's document numbers to UIDs, filled as queries
// meet them: reading a document's ID from its stored fields is the cost
// that bleve's collector pays per hit on every query. It holds 4 bytes
// per document of the segments queried, and forgets a segment when a
// snapshot no longer has it (merged away).
type uidCache struct {
	mu   sync.Mutex
	segs map[segment.Segment]*segUIDs
}

// segUIDs is one segment's map: 0 is not known yet, noUID is a document
// that is not a message (a mark), sharedUID a shared document (shared.go),
// whose ID is in shared: which of its members answer depends on the box
// asked and on which are live, so they are found at each query.
type segUIDs struct {
	mu     sync.Mutex
	uids   []uint32
	shared map[uint32]string
}

const (
	noUID     = math.MaxUint32
	sharedUID = math.MaxUint32 - 1
)

// retain forgets the segments that segs does not hold.
func (c *uidCache) retain(segs []*scorch.SegmentSnapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.segs) == 0 {
		return
	}
	live := make(map[segment.Segment]bool, len(segs))
	for _, ss := range segs {
		live[ss.Segment()] = true
	}
	for s := range c.segs {
		if !live[s] {
			delete(c.segs, s)
		}
	}
}

func (c *uidCache) segment(ss *scorch.SegmentSnapshot) *segUIDs {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.segs == nil {
		c.segs = map[segment.Segment]*segUIDs{}
	}
	s := c.segs[ss.Segment()]
	if s == nil {
		s = &segUIDs{uids: make([]uint32, ss.Segment().Count())}
		c.segs[ss.Segment()] = s
	}
	return s
}

// of adds the UIDs of the documents hits numbers in ss to out; live
// gives those of a shared document.
func (c *uidCache) of(ss *scorch.SegmentSnapshot, hits *roaring.Bitmap, out *roaring.Bitmap, live func(id string) ([]uint32, error)) error {
	s := c.segment(ss)
	s.mu.Lock()
	defer s.mu.Unlock()
	it := hits.Iterator()
	for it.HasNext() {
		n := it.Next()
		if int(n) >= len(s.uids) {
			return fmt.Errorf("bleve: document %d past the end of a segment of %d", n, len(s.uids))
		}
		u := s.uids[n]
		if u == 0 {
			id, err := ss.DocID(uint64(n))
			if err != nil {
				return fmt.Errorf("bleve: read document %d: %w", n, err)
			}
			if isShared(string(id)) {
				u = sharedUID
				if s.shared == nil {
					s.shared = map[uint32]string{}
				}
				s.shared[n] = string(id)
			} else {
				u = uidOf(string(id))
			}
			s.uids[n] = u
		}
		switch u {
		case noUID:
		case sharedUID:
			uids, err := live(s.shared[n])
			if err != nil {
				return err
			}
			out.AddMany(uids)
		default:
			out.Add(u)
		}
	}
	return nil
}

// uidOf is the UID a document ID names (docID), or noUID.
func uidOf(id string) uint32 {
	for i := len(id) - 1; i >= 0; i-- {
		if id[i] == '/' {
			u, err := strconv.ParseUint(id[i+1:], 10, 32)
			if err != nil || u == 0 || u == noUID {
				return noUID
			}
			return uint32(u)
		}
	}
	return noUID
}
