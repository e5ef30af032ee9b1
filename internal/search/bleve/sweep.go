package bleveindex

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/blevesearch/bleve/v2/index/scorch"
	segment "github.com/blevesearch/scorch_segment_api/v2"
	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/search"
)

// Sweeping the vocabulary. Put adds words and nothing else removes them,
// so without a sweep the vocabulary would be every word ever indexed:
// the words of deleted messages, mailboxes and users would stay on disk
// for ever. SweepVocabulary removes the words no live document holds.
//
// It runs in two passes over the vocabulary's keys, outside any lock:
//
//  1. find its distinct terms (each key whose suffix begins the term's
//     word stands for it, and the first suffix of every word does), and,
//     a chunk of them at a time, those that no live document of the
//     current snapshot holds in a text field: the candidates;
//  2. gather the keys of the candidates and delete them, a chunk of keys
//     at a time, each chunk under sweepMu: the chunk's terms are checked
//     again on a snapshot taken under the lock, and only the terms still
//     held by no document lose their keys and are forgotten by the
//     memory of words known written (vocab.known). The keys that stand
//     for a term go after all the others, so that a sweep cut short
//     leaves every term it cut findable by the next.
//
// The race it closes: Put writes a batch's new words to the vocabulary
// before bleve applies the batch, and it skips the words it knows are
// written. A sweep that checked a word between the two would find no
// document holding it and remove it, and the document would then show
// with a word the vocabulary lacks (a lost SEARCH answer); one that
// removed a word Put skipped as known would do the same. Put holds
// sweepMu (read) from its look at known until bleve has applied its
// batch, so the snapshot a chunk is checked on has every batch whose
// words were looked at, and a Put that comes after a chunk does not know
// the words the chunk removed and writes them again.
//
// Deleted documents: the check takes a segment's deleted documents out
// of its postings, so a deleted document's words go with the first sweep
// after bleve applies the deletion. Delete only queues (Index); the
// sweep applies the queue first, and a deletion queued while it runs
// keeps its words until the next sweep, which is harmless (a word no
// document holds costs a lookup that finds nothing).

// sweepLimits size a sweep's chunks.
type sweepLimits struct {
	// terms is how many terms pass 1 checks at once, and keys how many
	// keys pass 2 deletes under one hold of sweepMu: the lock stops Puts
	// while a chunk is checked on every segment.
	terms, keys int
	// cands bounds the candidates one round holds in memory; a sweep
	// that finds more goes on in another round.
	cands int
}

// defaultSweep is SweepVocabulary's: a chunk under the lock is tens of
// milliseconds, and a round's candidates some tens of megabytes.
func defaultSweep() sweepLimits { return sweepLimits{terms: 4096, keys: 8192, cands: 1 << 18} }

// SweepVocabulary removes from the vocabulary the words that no live
// document holds, and returns how many it removed. It may run at any
// time, concurrently with Put, Search and deletions; it is cancelled by
// ctx between chunks (what it removed stays removed).
func (x *Index) SweepVocabulary(ctx context.Context) (removed int, err error) {
	return x.sweep(ctx, defaultSweep())
}

// sweep is SweepVocabulary in chunks of lim.
func (x *Index) sweep(ctx context.Context, lim sweepLimits) (removed int, err error) {
	if err := x.flushDeletes(); err != nil {
		return 0, err
	}
	var from []byte // pass 1 goes on from here in the next round
	var span keySpan
	for {
		cands, next, err := x.sweepCandidates(ctx, from, lim)
		if err != nil {
			return removed, err
		}
		n, err := x.sweepKeys(ctx, cands, &span, lim)
		removed += n
		if err != nil {
			return removed, err
		}
		if next == nil {
			break
		}
		from = next
	}
	if span.lo == nil {
		return removed, nil
	}
	// A deleted key stays in Pebble's files, shadowed, until a
	// compaction drops it: the range the sweep deleted from is
	// compacted now, so that the words leave the disk (a deleted
	// user's above all), not at some later compaction.
	if err := x.voc.db.Compact(ctx, span.lo, append(span.hi, 0), false); err != nil {
		return removed, fmt.Errorf("bleve: compact the swept vocabulary: %w", err)
	}
	return removed, nil
}

// keySpan is the least and the greatest key deleted.
type keySpan struct{ lo, hi []byte }

func (s *keySpan) add(k []byte) {
	if s.lo == nil || bytes.Compare(k, s.lo) < 0 {
		s.lo = slices.Clone(k)
	}
	if bytes.Compare(k, s.hi) > 0 {
		s.hi = slices.Clone(k)
	}
}

// suffixKeys are the bounds of the vocabulary's suffix keys.
func suffixKeys() *pebble.IterOptions {
	return &pebble.IterOptions{LowerBound: []byte("s"), UpperBound: []byte("t")}
}

// splitKey parses a suffix key into its suffix and term.
func splitKey(k []byte) (suffix, term []byte, ok bool) {
	i := bytes.IndexByte(k, 0)
	if len(k) == 0 || k[0] != 's' || i < 0 {
		return nil, nil, false
	}
	return k[1:i], k[i+1:], true
}

// standsFor reports whether a key of suffix and term may be the key of
// the first suffix of the term's word: the suffix and the word's
// beginning as the term holds it (all of a short word, the bytes before
// the 0x00 of a long one) agree as far as both go. The first suffix's
// key always does; a later one does only when the word repeats its
// beginning, and then the term is found twice.
func standsFor(suffix, term []byte) bool {
	if i := bytes.IndexByte(term, 0); i >= 0 {
		term = term[:i]
	}
	n := min(len(suffix), len(term))
	return bytes.Equal(suffix[:n], term[:n])
}

// sweepCandidates is pass 1 from the key from (nil: the first): the
// terms that no live document of the current snapshot holds, and the
// key to go on from in another round (nil when the pass is done).
func (x *Index) sweepCandidates(ctx context.Context, from []byte, lim sweepLimits) (map[string]bool, []byte, error) {
	o := suffixKeys()
	if from != nil {
		o.LowerBound = from
	}
	it, err := x.voc.db.NewIterWithContext(ctx, o)
	if err != nil {
		return nil, nil, fmt.Errorf("bleve: read the vocabulary: %w", err)
	}
	defer it.Close()
	cands := map[string]bool{}
	chunk := map[string]bool{}
	check := func() error {
		if len(chunk) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		held, err := x.heldNow(slices.Collect(maps.Keys(chunk)))
		if err != nil {
			return err
		}
		for t := range chunk {
			if !held[t] {
				cands[t] = true
			}
		}
		clear(chunk)
		return nil
	}
	var next []byte
	for ok := it.First(); ok; ok = it.Next() {
		s, t, ok := splitKey(it.Key())
		if !ok || !standsFor(s, t) {
			continue
		}
		chunk[string(t)] = true
		if len(chunk) < lim.terms {
			continue
		}
		if err := check(); err != nil {
			return nil, nil, err
		}
		if len(cands) >= lim.cands {
			next = append(slices.Clone(it.Key()), 0) // the next key after
			break
		}
	}
	if err := it.Error(); err != nil {
		return nil, nil, fmt.Errorf("bleve: read the vocabulary: %w", err)
	}
	if err := check(); err != nil {
		return nil, nil, err
	}
	return cands, next, nil
}

// sweepKeys is pass 2: it deletes the keys of the candidates that no
// live document holds under sweepMu, and returns how many terms lost
// their keys. The keys that stand for a term in pass 1 (standsFor) go
// last, after the scan: a sweep cut short (ctx, an error) leaves them
// with whatever else is left of their terms, and the next sweep finds
// those terms again, where keys left without them would stay for ever.
func (x *Index) sweepKeys(ctx context.Context, cands map[string]bool, span *keySpan, lim sweepLimits) (int, error) {
	if len(cands) == 0 {
		return 0, nil
	}
	r := &removal{cands: cands, gone: map[string]bool{}, span: span}
	it, err := x.voc.db.NewIterWithContext(ctx, suffixKeys())
	if err != nil {
		return 0, fmt.Errorf("bleve: read the vocabulary: %w", err)
	}
	defer it.Close()
	var keys [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		s, t, ok := splitKey(it.Key())
		if !ok || !cands[string(t)] {
			continue
		}
		if standsFor(s, t) {
			r.last = append(r.last, slices.Clone(it.Key()))
			continue
		}
		keys = append(keys, slices.Clone(it.Key()))
		if len(keys) < lim.keys {
			continue
		}
		if err := x.removeUnheld(ctx, keys, r); err != nil {
			return len(r.gone), err
		}
		keys = keys[:0]
	}
	if err := it.Error(); err != nil {
		return len(r.gone), fmt.Errorf("bleve: read the vocabulary: %w", err)
	}
	if err := x.removeUnheld(ctx, keys, r); err != nil {
		return len(r.gone), err
	}
	last := r.last
	for len(last) > 0 {
		n := min(len(last), lim.keys)
		if err := x.removeUnheld(ctx, last[:n], r); err != nil {
			return len(r.gone), err
		}
		last = last[n:]
	}
	return len(r.gone), nil
}

// removal is the state of pass 2: the candidates (a term found held is
// one no more), the terms that lost keys, the least and greatest key
// deleted, and the keys that go last.
type removal struct {
	cands, gone map[string]bool
	span        *keySpan
	last        [][]byte
}

// removeUnheld deletes those of keys whose terms no live document holds,
// checked under sweepMu (see above), and forgets those terms as known
// written.
func (x *Index) removeUnheld(ctx context.Context, keys [][]byte, r *removal) error {
	if len(keys) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	terms := map[string]bool{}
	for _, k := range keys {
		_, t, _ := splitKey(k)
		if r.cands[string(t)] {
			terms[string(t)] = true
		}
	}
	x.sweepMu.Lock()
	defer x.sweepMu.Unlock()
	held, err := x.heldNow(slices.Collect(maps.Keys(terms)))
	if err != nil {
		return err
	}
	b := x.voc.db.NewBatch()
	defer b.Close()
	for _, k := range keys {
		_, t, _ := splitKey(k)
		if !terms[string(t)] || held[string(t)] {
			continue
		}
		if err := b.Delete(k, nil); err != nil {
			return fmt.Errorf("bleve: sweep the vocabulary: %w", err)
		}
		r.span.add(k)
	}
	// Not synced: a deletion a crash loses leaves a word that no
	// document holds, which the next sweep removes (the log is replayed
	// in order, so the keys that go last are lost first).
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("bleve: sweep the vocabulary: %w", err)
	}
	for t := range terms {
		if held[t] {
			delete(r.cands, t)
			continue
		}
		x.voc.known.Delete(t)
		r.gone[t] = true
	}
	return nil
}

// heldNow returns which of terms some live document of the current
// snapshot holds in a text field.
func (x *Index) heldNow(terms []string) (map[string]bool, error) {
	adv, err := x.idx.Advanced()
	if err != nil {
		return nil, fmt.Errorf("bleve: open the index: %w", err)
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, fmt.Errorf("bleve: open a reader: %w", err)
	}
	defer r.Close()
	snap, ok := r.(*scorch.IndexSnapshot)
	if !ok {
		return nil, errors.New("bleve: the vocabulary of an index that is not scorch cannot be swept")
	}
	return heldIn(snap.Segments(), terms)
}

// heldIn returns which of terms a document of segs not deleted holds in
// a text field (search.Doc.Fields).
func heldIn(segs []*scorch.SegmentSnapshot, terms []string) (map[string]bool, error) {
	held := make(map[string]bool, len(terms))
	ts := newTermSet(terms)
	if ts.empty() {
		return held, nil
	}
	fields := slices.Sorted(maps.Keys(search.Doc{}.Fields()))
	var pl segment.PostingsList
	for _, ss := range segs {
		seg := ss.Segment()
		del := ss.Deleted()
		if del != nil && del.IsEmpty() {
			del = nil
		}
		for _, f := range fields {
			if len(held) == len(terms) {
				return held, nil
			}
			d, err := seg.Dictionary(f)
			if err != nil {
				return nil, fmt.Errorf("bleve: field %s: %w", f, err)
			}
			if pl, err = heldInDict(d, ts, del, held, pl); err != nil {
				return nil, fmt.Errorf("bleve: field %s: %w", f, err)
			}
		}
	}
	return held, nil
}

// heldInDict notes in held the terms of ts that d holds for a document
// not in del.
func heldInDict(d segment.TermDictionary, ts *termSet, del *roaring.Bitmap, held map[string]bool, pl segment.PostingsList) (segment.PostingsList, error) {
	it := d.AutomatonIterator(ts, ts.first, ts.end())
	for {
		e, err := it.Next()
		if err != nil || e == nil {
			return pl, err
		}
		if held[e.Term] {
			continue
		}
		if del != nil {
			if pl, err = d.PostingsList([]byte(e.Term), del, pl); err != nil {
				return pl, err
			}
			if pl.Count() == 0 {
				continue
			}
		}
		held[strings.Clone(e.Term)] = true
	}
}
