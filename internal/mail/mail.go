// Package mail holds Quire's domain types: UIDs, mod-sequences, flags, change
// events and the sentinel errors every layer shares.
//
// Invariants:
//   - Flags values are canonical: sorted, de-duplicated, system flags spelled
//     as RFC 9051 2.3.2 spells them, keywords compared case-insensitively.
//   - A sentinel error is matched with errors.Is; errors that wrap
//     ErrUnavailable are temporary (LMTP 451, IMAP NO [UNAVAILABLE]).
//
// The package imports only the standard library and has no mutable state.
package mail

import (
	"sort"
	"strings"
)

// UID is an IMAP unique identifier (RFC 9051 2.3.1.1). Zero is never a valid UID.
type UID uint32

// ModSeq is a per-mailbox mod-sequence (RFC 7162 3.1). It grows with every
// change in a mailbox.
type ModSeq uint64

// System flags (RFC 9051 2.3.2). \Recent is a session property, never stored.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// ValidKeyword reports whether w can be a flag keyword (RFC 9051 9: an
// atom, so without the backslash of a system flag): no controls, spaces
// or atom-specials.
func ValidKeyword(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// Flags is a canonical set of flags: sorted and without duplicates.
type Flags []string

// NewFlags returns the canonical form of fs. System flags are matched
// case-insensitively and respelled; keywords keep the spelling first seen.
func NewFlags(fs ...string) Flags {
	out := make(Flags, 0, len(fs))
	seen := make(map[string]bool, len(fs))
	for _, f := range fs {
		if f == "" {
			continue
		}
		f = canonical(f)
		k := strings.ToLower(f)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i]) < strings.ToLower(out[j]) })
	return out
}

func canonical(f string) string {
	if !strings.HasPrefix(f, `\`) {
		return f
	}
	for _, s := range []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft} {
		if strings.EqualFold(f, s) {
			return s
		}
	}
	return f
}

// Has reports whether fs holds f (case-insensitively).
func (fs Flags) Has(f string) bool {
	for _, x := range fs {
		if strings.EqualFold(x, f) {
			return true
		}
	}
	return false
}

// Union returns fs with add added.
func (fs Flags) Union(add Flags) Flags { return NewFlags(append(append([]string{}, fs...), add...)...) }

// Minus returns fs without the flags in del.
func (fs Flags) Minus(del Flags) Flags {
	out := make(Flags, 0, len(fs))
	for _, f := range fs {
		if !del.Has(f) {
			out = append(out, f)
		}
	}
	return out
}

// Equal reports whether fs and o hold the same flags.
func (fs Flags) Equal(o Flags) bool {
	if len(fs) != len(o) {
		return false
	}
	for i := range fs {
		if !strings.EqualFold(fs[i], o[i]) {
			return false
		}
	}
	return true
}
