package imapwire

import (
	"errors"
	"iter"
	"slices"
	"strconv"
	"strings"
)

// SeqRange is a range of sequence numbers or UIDs, as written: Start may be
// above Stop (RFC 9051 9 seq-range: "4:2" is "2:4"). Zero stands for "*",
// the largest number in use.
type SeqRange struct{ Start, Stop uint32 }

// SeqSet is a sequence-set (RFC 9051 9) or "$", the saved search result
// (RFC 5182 2.1). A Saved set has no ranges; the session substitutes its
// saved result.
type SeqSet struct {
	Ranges []SeqRange
	Saved  bool
}

// ParseSeqSet parses a sequence set such as "1:3,5,7:*" or "$".
func ParseSeqSet(s string) (SeqSet, error) {
	if s == "$" {
		return SeqSet{Saved: true}, nil
	}
	var set SeqSet
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, ":")
		x, err := parseSeqNumber(a)
		if err != nil {
			return SeqSet{}, err
		}
		y := x
		if isRange {
			if y, err = parseSeqNumber(b); err != nil {
				return SeqSet{}, err
			}
		}
		set.Ranges = append(set.Ranges, SeqRange{x, y})
	}
	return set, nil
}

func parseSeqNumber(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" || s[0] < '1' || s[0] > '9' || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("expected nz-number or \"*\" in sequence set")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("sequence number out of range")
	}
	return uint32(n), nil
}

// String returns the set in IMAP syntax.
func (s SeqSet) String() string {
	if s.Saved {
		return "$"
	}
	var b []byte
	for i, r := range s.Ranges {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSeqNum(b, r.Start)
		if r.Start != r.Stop {
			b = append(b, ':')
			b = appendSeqNum(b, r.Stop)
		}
	}
	return string(b)
}

func appendSeqNum(b []byte, n uint32) []byte {
	if n == 0 {
		return append(b, '*')
	}
	return strconv.AppendUint(b, uint64(n), 10)
}

// bounds returns the range as lo <= hi, with "*" replaced by star.
func (r SeqRange) bounds(star uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == 0 {
		lo = star
	}
	if hi == 0 {
		hi = star
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// Contains reports whether n is in the set when "*" is star (RFC 9051 9:
// "*" is the largest number in use). A Saved set contains nothing.
func (s SeqSet) Contains(n, star uint32) bool {
	for _, r := range s.Ranges {
		if lo, hi := r.bounds(star); n >= lo && n <= hi {
			return true
		}
	}
	return false
}

// Normalize returns the ranges with "*" replaced by star, ordered, merged
// and each with Start <= Stop. Ranges wholly of zero (an empty mailbox's
// "*") are dropped.
func (s SeqSet) Normalize(star uint32) []SeqRange {
	out := make([]SeqRange, 0, len(s.Ranges))
	for _, r := range s.Ranges {
		lo, hi := r.bounds(star)
		if hi == 0 {
			continue
		}
		out = append(out, SeqRange{max(lo, 1), hi})
	}
	slices.SortFunc(out, func(a, b SeqRange) int { return int(int64(a.Start) - int64(b.Start)) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && uint64(r.Start) <= uint64(merged[n-1].Stop)+1 {
			merged[n-1].Stop = max(merged[n-1].Stop, r.Stop)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

// All yields every number in the set in ascending order, once, with "*" as
// star. The caller bounds the work: "1:*" yields star numbers.
func (s SeqSet) All(star uint32) iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for _, r := range s.Normalize(star) {
			for n := uint64(r.Start); n <= uint64(r.Stop); n++ {
				if !yield(uint32(n)) {
					return
				}
			}
		}
	}
}

// Dynamic reports whether the set mentions "*".
func (s SeqSet) Dynamic() bool {
	for _, r := range s.Ranges {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// seqSet reads a sequence-set or "$".
func (r *Reader) seqSet(what string) SeqSet {
	if r.take('$') {
		return SeqSet{Saved: true}
	}
	s := r.run(func(c byte) bool { return isDigit(c) || c == ':' || c == ',' || c == '*' })
	if s == "" {
		r.fail("expected sequence set for %s at %s", what, r.here())
	}
	set, err := ParseSeqSet(s)
	if err != nil {
		r.fail("%s: %v", what, err)
	}
	return set
}
