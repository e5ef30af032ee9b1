package bleveindex

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"log/slog"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"

	"github.com/quiremail/quire/internal/fifocache"
	"github.com/quiremail/quire/internal/search"
)

// The vocabulary. A document's text fields hold its words (search.EachWord),
// one term each, not the suffixes of its words (search.Terms): a word of n
// runes was n-2 terms in every document that held it, and building their
// postings was most of what indexing a message cost. The suffixes are kept
// once per word for the whole index instead, in a Pebble database beside
// bleve's files (dir/vocab):
//
//	key   "s" + suffix (search.EachSuffix of the word) + 0x00 + term
//	value empty
//
// where term is the word as the documents hold it (wordTerm). A query's
// prefix p (search.Plan) is answered in two steps: the terms whose
// suffixes begin with p (one range of keys), then, in each segment, the
// postings of those terms (segments.go). A field holds a suffix beginning
// with p exactly when it holds a word that has one, so the answers are
// the ones search.Terms promise.
//
// Invariants:
//   - Every word of every document bleve may show is in the vocabulary:
//     Put writes the batch's new words, synced, before it hands the batch
//     to bleve (a word in the vocabulary and in no document costs a
//     lookup that finds nothing; the reverse would lose answers).
//   - Deleting documents leaves their words; SweepVocabulary removes the
//     words no live document holds (sweep.go), and forgets them as known,
//     so that a later Put writes them again.
//   - Writes are idempotent (a key holds nothing), so the memory of words
//     already written (known, by term) is only a saving: a word it has
//     forgotten is written again, never missed.

// vocabDir is the vocabulary's directory inside the index's. The
// release before shared documents (shared.go) kept it in vocabV1: an
// index of that release holds none, so OpenWith keeps it and renames the
// directory; and a release that knows only vocabV1, run after this one,
// finds no vocabulary, takes the index for an older format's, and makes
// it anew, rather than read shared documents' IDs as a message's.
const (
	vocabDir = "vocab.v2"
	vocabV1  = "vocab"
)

// maxWordTerm is the longest word a document holds as itself, in bytes;
// a longer one is held as its first bytes and a hash (wordTerm).
const maxWordTerm = 64

// wordTerm is the term of a word in a document: the word, or for a long
// one its first runes, a 0x00 (never in a word) and a 64-bit hash of the
// whole, so that two long words with a common beginning stay two terms.
func wordTerm(w string) string {
	if len(w) <= maxWordTerm {
		return w
	}
	cut := maxWordTerm - 17
	for cut > 0 && !utf8.RuneStart(w[cut]) {
		cut--
	}
	h := fnv.New64a()
	h.Write([]byte(w))
	return fmt.Sprintf("%s\x00%016x", w[:cut], h.Sum64())
}

// vocab is the vocabulary: the Pebble database and the words known written.
type vocab struct {
	db    *pebble.DB
	known *fifocache.Cache[string, struct{}]
}

// vocabCache is the vocabulary database's block cache, in bytes.
const vocabCache = 32 << 20

// knownBytes bounds the memory of words known written: about 250,000
// words, more than a mailbox's common words, so that a batch writes only
// the words it brings new (and some that were forgotten).
const knownBytes = 16 << 20

// openVocab opens (creating) the vocabulary in dir.
func openVocab(dir string, log *slog.Logger) (*vocab, error) {
	// A block cache of its own (Pebble's default is 8 MiB): the suffix
	// keys a query scans and the member keys every batch looks up stay
	// decoded in memory rather than read from their files again.
	cache := pebble.NewCache(vocabCache)
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{Logger: pebbleLogger{log}, Cache: cache}
	// Bloom filters on every level (set on L0, the others inherit): each
	// message a batch puts alone asks for its member key (shared.go),
	// which is almost never there.
	po.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("bleve: open the vocabulary %s: %w", dir, err)
	}
	known := fifocache.New(fifocache.Options[string, struct{}]{
		Max: knownBytes, Shards: 8,
		Size: func(k string, _ struct{}) int { return len(k) + 48 },
		Hash: func(s maphash.Seed, k string) uint64 { return maphash.String(s, k) },
	})
	return &vocab{db: db, known: known}, nil
}

// hasVocab reports whether the index in dir has a vocabulary: an index
// without one was written by a release that stored suffixes.
func hasVocab(dir string) bool {
	_, err := os.Stat(dir)
	return err == nil
}

func (v *vocab) close() error {
	if err := v.db.Close(); err != nil {
		return fmt.Errorf("bleve: close the vocabulary: %w", err)
	}
	return nil
}

// add writes the words not known written, and b's writes when b is not
// nil (a batch's member keys, shared.go), in one synced commit, and then
// knows the words. It closes b.
func (v *vocab) add(words []string, b *pebble.Batch) error {
	if b != nil {
		defer b.Close()
	}
	type word struct{ w, t string }
	var fresh []word
	for _, w := range words {
		// Known by term, as a sweep names the words it removes (a long
		// word's term is all the vocabulary has of it).
		t := wordTerm(w)
		if _, ok := v.known.Get(t); !ok {
			fresh = append(fresh, word{w, t})
		}
	}
	if len(fresh) == 0 && b == nil {
		return nil
	}
	if b == nil {
		b = v.db.NewBatch()
		defer b.Close()
	}
	var key []byte
	for _, f := range fresh {
		var err error
		search.EachSuffix(f.w, func(s string) {
			if err != nil {
				return
			}
			key = append(append(append(append(key[:0], 's'), s...), 0), f.t...)
			err = b.Set(key, nil, nil)
		})
		if err != nil {
			return fmt.Errorf("bleve: write the vocabulary: %w", err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("bleve: write the vocabulary: %w", err)
	}
	for _, f := range fresh {
		// A copy: a short word's term is the word, a slice of its whole
		// text's Canon form, which the memory would otherwise keep
		// alive for each word it holds.
		v.known.Put(strings.Clone(f.t), struct{}{})
	}
	return nil
}

// terms returns the terms of the words with a suffix beginning with p,
// sorted and distinct.
func (v *vocab) terms(p string) ([]string, error) {
	lo := append([]byte{'s'}, p...)
	it, err := v.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixEnd(string(lo))})
	if err != nil {
		return nil, fmt.Errorf("bleve: read the vocabulary: %w", err)
	}
	var out []string
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			continue
		}
		out = append(out, string(k[i+1:]))
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return nil, fmt.Errorf("bleve: read the vocabulary: %w", err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// pebbleLogger routes Pebble's logs to slog: information at debug level.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble", "db", "vocabulary")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "db", "vocabulary")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble", "db", "vocabulary")
	os.Exit(1)
}
