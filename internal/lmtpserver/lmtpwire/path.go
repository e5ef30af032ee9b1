// Package lmtpwire is the LMTP codec (RFC 2033, over RFC 5321's syntax)
// that the LMTP server and the proxy share: command lines, MAIL and RCPT
// paths with their parameters, and the dot-stuffed DATA body.
//
// Invariants: no input panics (fuzzed); a body is given byte for byte,
// only the stuffed dots removed (or, from NewRawDotReader, kept); a line
// over its bound is discarded to its end.
package lmtpwire

import (
	"errors"
	"strings"
)

var errPathSyntax = errors.New("bad address syntax")

// SplitCommand splits a command line into its upper-cased verb and its
// argument.
func SplitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), arg
}

// CutPrefixFold removes prefix from s, ignoring case.
func CutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

// Param is an ESMTP parameter of MAIL or RCPT (RFC 5321 4.1.2).
type Param struct {
	Key   string // upper case
	Value string // "" when the parameter has none
}

// ParsePath parses the path of MAIL FROM: or RCPT TO: and the parameters
// after it (RFC 5321 4.1.2). It returns the address without angle
// brackets or source route; the null path <> gives "" if null is true.
// For the sake of old clients it tolerates spaces before the path and a
// path without angle brackets.
func ParsePath(s string, null bool) (string, []Param, error) {
	s = strings.TrimLeft(s, " ")
	var addr, rest string
	if strings.HasPrefix(s, "<") {
		end := closingBracket(s)
		if end < 0 {
			return "", nil, errPathSyntax
		}
		addr, rest = s[1:end], s[end+1:]
	} else {
		addr, rest, _ = strings.Cut(s, " ")
		rest = " " + rest
	}
	if strings.HasPrefix(addr, "@") { // source route, ignored (RFC 5321 C)
		_, a, ok := strings.Cut(addr, ":")
		if !ok {
			return "", nil, errPathSyntax
		}
		addr = a
	}
	if addr == "" && !null || strings.ContainsAny(addr, "<>") && !strings.HasPrefix(addr, `"`) {
		return "", nil, errPathSyntax
	}
	for i := 0; i < len(addr); i++ {
		if addr[i] < ' ' || addr[i] == 0x7f {
			return "", nil, errPathSyntax
		}
	}
	if rest != "" && rest[0] != ' ' {
		return "", nil, errPathSyntax
	}
	var params []Param
	for _, f := range strings.Fields(rest) {
		k, v, _ := strings.Cut(f, "=")
		if k == "" {
			return "", nil, errPathSyntax
		}
		params = append(params, Param{Key: strings.ToUpper(k), Value: v})
	}
	return addr, params, nil
}

// closingBracket returns the index of the '>' that closes the path
// starting at s[0], skipping quoted strings, or -1.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i
		}
	}
	return -1
}

// ParseSize parses a SIZE value (RFC 1870 4): digits only. A value too
// large for int64 saturates at the largest int64.
func ParseSize(v string) (int64, bool) {
	if v == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			n = 1<<63 - 1
			continue
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
