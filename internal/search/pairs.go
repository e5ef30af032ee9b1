package search

import (
	"encoding/base64"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// Pairs is a Bloom filter of the adjacent word pairs of a document's
// texts: what makes a phrase cost about what its words do. The index
// narrows `BODY "server meeting"` to the messages holding both words, a
// superset SEARCH then reads; a message whose texts never put a word
// ending in "ver" right before a word starting with "mee" cannot hold
// the phrase, and its Pairs tell so without reading it.
//
// A pair is the last PairRunes runes of a word, the separators that
// follow it, and the first PairRunes of the next word (the whole word
// when it is shorter), words as the index cuts them (runs of letters,
// digits and marks of the Canon text). A phrase holds its separators
// exactly, so they belong to the pair ("server, meeting" and a line
// break between the words are not "server meeting"). A phrase that
// starts inside a word or ends inside one still names its pairs: its
// first word is a suffix of a text's word and its last a prefix of one,
// and PairRunes of each suffice when they are that long.
//
// Invariant: MayContain(q) is false only when no text the filter was
// built from contains q under SEARCH's fold (RFC 9051 6.4.4), so a
// message it rules out is not a match; a true answer may be wrong (a
// Bloom filter's false positive, about 2 % at the sizes used), and the
// caller reads the message, as without the filter.
//
// Encoding: text (base64, unpadded), for the conversion cache, which
// stores text; it is probed in place, a few characters a probe, so that
// asking costs no decoding of the whole. Its bytes: a version (3), the
// number of probes, the number of bits (4 bytes, little-endian), then
// the bits.
type Pairs string

const (
	// PairRunes is how many runes of each word a pair keeps.
	PairRunes = 3
	// pairsVersion is the first byte of a filter.
	pairsVersion = 3
	pairsHeader  = 6 // bytes before the bits: two base64 groups
	// pairBitsPer is the filter's bits per pair occurrence (distinct
	// pairs are fewer): with pairProbes probes, about 2 % false
	// positives.
	pairBitsPer = 8
	pairProbes  = 5
	// minPairBits and maxPairBits bound the filter: 8 bytes to 32 KiB.
	// A text of more pairs than maxPairBits/pairBitsPer (an attachment
	// of a hundred pages) fills it past its promise, and it answers
	// true more often, never false wrongly.
	minPairBits = 64
	maxPairBits = 1 << 18
)

// BuildPairs returns the filter of the adjacent word pairs of each of
// texts (the fields a phrase is searched in; a phrase never spans two).
func BuildPairs(texts ...string) Pairs {
	n := 0
	for _, t := range texts {
		n += len(t)
	}
	hs := make([]uint64, 0, n/5+1)
	for _, t := range texts {
		eachPair(Canon(t), func(h uint64) { hs = append(hs, h) })
	}
	m := min(max(uint64(len(hs))*pairBitsPer, minPairBits), maxPairBits)
	m = (m + 7) / 8 * 8
	b := make([]byte, pairsHeader+m/8)
	b[0], b[1] = pairsVersion, pairProbes
	binary.LittleEndian.PutUint32(b[2:], uint32(m))
	bs := b[pairsHeader:]
	for _, h := range hs {
		for j := range uint64(pairProbes) {
			i := probeBit(h, j, m)
			bs[i/8] |= 1 << (i % 8)
		}
	}
	return Pairs(base64.RawStdEncoding.EncodeToString(b))
}

// MayContain reports whether a text of the filter may contain q (a
// search string, not folded): false only when one of q's pairs is in
// none of them. What is not a filter (empty, cut, another version)
// answers true, and a damaged character counts as bits set.
func (p Pairs) MayContain(q string) bool {
	k, m, ok := p.header()
	if !ok {
		return true
	}
	for _, h := range PhrasePairs(q) {
		in := probe(h, k, m, func(i uint64) bool {
			c, ok := p.byteAt(pairsHeader + int(i/8))
			return !ok || c&(1<<(i%8)) != 0
		})
		if !in {
			return false
		}
	}
	return true
}

// header returns the probes and bits of p, and whether p is a filter
// of this version whose length fits its bit count.
func (p Pairs) header() (k int, m uint64, ok bool) {
	var h [pairsHeader]byte
	for i := range h {
		if h[i], ok = p.byteAt(i); !ok {
			return 0, 0, false
		}
	}
	m = uint64(binary.LittleEndian.Uint32(h[2:]))
	n := pairsHeader + int(m/8) // bytes
	want := n / 3 * 4
	switch n % 3 {
	case 1:
		want += 2
	case 2:
		want += 3
	}
	if h[0] != pairsVersion || h[1] == 0 || m == 0 || m%8 != 0 || len(p) != want {
		return 0, 0, false
	}
	return int(h[1]), m, true
}

// byteAt decodes byte i of the filter from the base64 characters that
// hold it.
func (p Pairs) byteAt(i int) (byte, bool) {
	g := i / 3 * 4 // the group's first character
	var v [4]byte
	for j := range 4 {
		if g+j >= len(p) {
			break
		}
		d := base64Value[p[g+j]]
		if d == 0xff {
			return 0, false
		}
		v[j] = d
	}
	switch i % 3 {
	case 0:
		return v[0]<<2 | v[1]>>4, g+1 < len(p)
	case 1:
		return v[1]<<4 | v[2]>>2, g+2 < len(p)
	default:
		return v[2]<<6 | v[3], g+3 < len(p)
	}
}

// base64Value maps a character of the standard alphabet to its value,
// the others to 0xff.
var base64Value = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

// probe calls f with each of the k bits of h among m (probeBit), while
// f returns true.
func probe(h uint64, k int, m uint64, f func(i uint64) bool) bool {
	for j := range uint64(k) {
		if !f(probeBit(h, j, m)) {
			return false
		}
	}
	return true
}

// probeBit is the j-th bit of h among m: double hashing (Kirsch and
// Mitzenmacher), reduced to [0, m) by multiplication (Lemire), so m need
// not be a power of two. BuildPairs sets these bits and probe asks them:
// one formula, or a stored filter stops answering.
func probeBit(h, j, m uint64) uint64 {
	i, _ := bits.Mul64(h+j*(h>>32|h<<32|1), m)
	return i
}

// PhrasePairs returns the pairs every text that contains q must hold:
// nil when q names none (one word, or words too short at its ends).
func PhrasePairs(q string) []uint64 {
	c := Canon(q)
	var ws []pairWord
	eachWord(c, func(w pairWord) { ws = append(ws, w) })
	var out []uint64
	for i := 0; i+1 < len(ws); i++ {
		l, r := ws[i], ws[i+1]
		// The first word may end a longer word of the text, and the
		// last may begin one: only PairRunes of them are sure then.
		// Inner words are the text's words whole.
		if i == 0 && l.runes < PairRunes || i+2 == len(ws) && r.runes < PairRunes {
			continue
		}
		out = append(out, pairHash(c[l.last:r.first]))
	}
	return out
}

// PairsKind is the conversion cache's kind of a phrase filter.
const PairsKind = "pairs"

// PairsKey is where the filter of a body (its store id) is kept in the
// conversion cache (by the first phrase search that reads it), made from text of the converter's version (a new
// converter may extract text an old filter lacks). The cache's other
// keys are 32-byte content hashes; none of them starts so.
func PairsKey(body, converter string) []byte {
	return []byte("pairs\x00" + converter + "\x00" + body)
}

// pairWord is one word of a Canon text: where its last PairRunes runes
// start and its first PairRunes end (the word itself when shorter), and
// its length in runes, up to PairRunes.
type pairWord struct {
	last, first int
	runes       int
}

// eachPair calls f with the hash of each adjacent pair of words of c, a
// Canon text: of the span from the first word's last PairRunes runes to
// the second's first PairRunes, separators included. The span is
// contiguous, and its word runes and separators tell its parts apart.
func eachPair(c string, f func(uint64)) {
	prev := -1 // the previous word's last runes start here
	eachWord(c, func(w pairWord) {
		if prev >= 0 {
			f(pairHash(c[prev:w.first]))
		}
		prev = w.last
	})
}

// eachWord calls f with each word of c, a Canon text, cut as EachTerm
// cuts it (inWord).
func eachWord(c string, f func(pairWord)) {
	eachWordSpan(c, func(start, end int, ascii bool) {
		if ascii {
			n := min(end-start, PairRunes)
			f(pairWord{last: end - n, first: start + n, runes: n})
			return
		}
		i, n := start, 0
		for ; i < end && n < PairRunes; n++ {
			_, sz := utf8.DecodeRuneInString(c[i:end])
			i += sz
		}
		j, m := end, 0
		for ; j > start && m < PairRunes; m++ {
			_, sz := utf8.DecodeLastRuneInString(c[start:j])
			j -= sz
		}
		f(pairWord{last: j, first: i, runes: n})
	})
}

// pairHash is FNV-1a (64 bits) of a pair's span: the filter is stored,
// so its hash must not change between processes.
func pairHash(span string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(span); i++ {
		h = (h ^ uint64(span[i])) * 1099511628211
	}
	return h
}
