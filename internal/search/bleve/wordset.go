package bleveindex

import (
	"hash/maphash"

	"github.com/quiremail/quire/internal/search"
)

// distinctWords returns the distinct words of text's Canon form
// (search.EachWordOf), in the order first met. An ASCII text, most
// mail's, is read once: its words are lowered as they are met (a word
// with no capital is a slice of text, one with capitals a copy), not
// Canon'd whole first. Folding a whole message, then splitting it, then a
// Go map lookup a word was the most of a delivery's indexing CPU after
// bleve's own; reading each byte once keeps the analysis from
// touching the text three times. Any other text goes through Canon.
func distinctWords(text string) []string {
	set := newWordSet(len(text) / 24)
	if set.addASCII(text) {
		return set.words
	}
	set = newWordSet(len(text) / 24)
	search.EachWordOf(search.Canon(text), set.add)
	return set.words
}

// asciiClass classifies ASCII bytes: 0 outside words, 1 in a word as it
// is (a lower-case letter or a digit), 2 in a word once lowered (a
// capital). search.EachWordOf's words of an ASCII text are its maximal
// runs of class 1 and 2, lowered. Read only.
var asciiClass = func() (t [128]uint8) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			t[c] = 1
		case 'A' <= c && c <= 'Z':
			t[c] = 2
		}
	}
	return t
}()

// addASCII adds the words of text, lowered, of at least search.MinQuery
// bytes, and reports true, if text is all ASCII. It reports false at the
// first byte past ASCII, having added some of text's words.
func (s *wordSet) addASCII(text string) bool {
	var low []byte
	for i := 0; i < len(text); {
		c := text[i]
		if c >= 0x80 {
			return false
		}
		if asciiClass[c] == 0 {
			i++
			continue
		}
		start, caps := i, false
		for ; i < len(text); i++ {
			c := text[i]
			if c >= 0x80 {
				return false
			}
			k := asciiClass[c]
			if k == 0 {
				break
			}
			caps = caps || k == 2
		}
		w := text[start:i]
		switch {
		case len(w) < search.MinQuery:
		case !caps:
			s.add(w)
		default:
			low = append(low[:0], w...)
			for j, c := range low {
				if 'A' <= c && c <= 'Z' {
					low[j] = c + 'a' - 'A'
				}
			}
			s.addBytes(low)
		}
	}
	return true
}

// wordSet gathers distinct words in the order first met. analyze meets
// every word of every message through it, most of them seen before in
// the same text, so it is an open-addressing table of small slots (a
// word's hash and index) rather than a Go map keyed by the word: a
// lookup hashes once and compares strings only when the hashes agree.
//
// Invariant: len(words) < len(slots)/2 after every add, so a probe ends.
type wordSet struct {
	seed  maphash.Seed
	slots []wordSlot // len a power of two
	words []string
}

type wordSlot struct {
	hash uint32 // the hash's high bits
	idx  int32  // index into words, plus one; 0 in an empty slot
}

// newWordSet returns a set sized for about n distinct words.
func newWordSet(n int) *wordSet {
	size := 64
	for size < 2*n {
		size *= 2
	}
	return &wordSet{seed: maphash.MakeSeed(), slots: make([]wordSlot, size), words: make([]string, 0, n)}
}

// add adds w if it is new.
func (s *wordSet) add(w string) {
	h := maphash.String(s.seed, w)
	if i, found := s.find(h, w); !found {
		s.insert(i, h, w)
	}
}

// addBytes adds a copy of w if it is new.
func (s *wordSet) addBytes(w []byte) {
	h := maphash.Bytes(s.seed, w)
	// string(w) copies only in insert: a conversion for a comparison
	// does not allocate.
	if i, found := s.find(h, string(w)); !found {
		s.insert(i, h, string(w))
	}
}

// find returns w's slot, or the empty slot where it goes.
func (s *wordSet) find(h uint64, w string) (uint64, bool) {
	mask := uint64(len(s.slots) - 1)
	tag := uint32(h >> 32)
	for i := h & mask; ; i = (i + 1) & mask {
		sl := s.slots[i]
		if sl.idx == 0 {
			return i, false
		}
		if sl.hash == tag && s.words[sl.idx-1] == w {
			return i, true
		}
	}
}

// insert puts w, of hash h, in the empty slot i.
func (s *wordSet) insert(i, h uint64, w string) {
	s.words = append(s.words, w)
	s.slots[i] = wordSlot{hash: uint32(h >> 32), idx: int32(len(s.words))}
	if 2*len(s.words) >= len(s.slots) {
		s.grow()
	}
}

// grow doubles the table.
func (s *wordSet) grow() {
	slots := make([]wordSlot, 2*len(s.slots))
	mask := uint64(len(slots) - 1)
	for j, w := range s.words {
		h := maphash.String(s.seed, w)
		i := h & mask
		for slots[i].idx != 0 {
			i = (i + 1) & mask
		}
		slots[i] = wordSlot{hash: uint32(h >> 32), idx: int32(j + 1)}
	}
	s.slots = slots
}
