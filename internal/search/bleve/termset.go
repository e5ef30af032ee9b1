package bleveindex

// termSet is a vellum automaton that accepts exactly a set of terms: a
// trie, walked together with a segment's term dictionary (an FST), so
// that finding which of the vocabulary's terms a segment holds costs the
// paths they share with the dictionary, not one lookup per term.
// State 0 is dead (nothing accepted from it), state 1 the root.
type termSet struct {
	next  map[uint64]int // state<<8 | byte -> state
	final []bool
	first []byte // the least term and the greatest, for the iterator's range
	last  []byte
}

func newTermSet(terms []string) *termSet {
	s := &termSet{next: map[uint64]int{}, final: []bool{false, false}}
	for _, t := range terms {
		st := 1
		for i := 0; i < len(t); i++ {
			k := uint64(st)<<8 | uint64(t[i])
			n, ok := s.next[k]
			if !ok {
				n = len(s.final)
				s.final = append(s.final, false)
				s.next[k] = n
			}
			st = n
		}
		s.final[st] = true
		if s.first == nil || t < string(s.first) {
			s.first = []byte(t)
		}
		if t > string(s.last) {
			s.last = []byte(t)
		}
	}
	return s
}

func (s *termSet) empty() bool { return s.first == nil }

// end is the first key after every term: the greatest with a 0 byte.
func (s *termSet) end() []byte { return append(append([]byte(nil), s.last...), 0) }

func (s *termSet) Start() int               { return 1 }
func (s *termSet) IsMatch(st int) bool      { return s.final[st] }
func (s *termSet) CanMatch(st int) bool     { return st != 0 }
func (s *termSet) WillAlwaysMatch(int) bool { return false }
func (s *termSet) Accept(st int, b byte) int {
	return s.next[uint64(st)<<8|uint64(b)] // 0, dead, when absent
}
