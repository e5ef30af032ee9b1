package imapsearch

import (
	"strings"

	"github.com/quiremail/quire/internal/convert"
)

// BaseSubject returns the base subject of a raw Subject value (RFC 5256
// 2.1): encoded words decoded, white space collapsed, and reply and
// forward markers ("Re:", "Fwd:", "Re[2]:", "[list] Re:", "(fwd)"
// trailers, "[fwd: ...]" wrappers) and leading "[...]" blobs removed.
// Case is kept; SORT and THREAD compare base subjects with
// i;ascii-casemap.
func BaseSubject(s string) string {
	b, _ := baseSubject(s)
	return b
}

// baseSubject also reports whether the subject marks a reply or a
// forward: extraction removed a subj-refwd, a "(fwd)" subj-trailer, or a
// subj-fwd-hdr and subj-fwd-trl (RFC 5256 2.1, used by REFERENCES step 5).
func baseSubject(raw string) (string, bool) {
	s := collapseSpace(convert.DecodeHeader(raw)) // step 1
	reply := false
	for {
		// Step 2: trailing "(fwd)" and white space.
		for {
			if strings.HasSuffix(s, " ") {
				s = s[:len(s)-1]
			} else if len(s) >= 5 && strings.EqualFold(s[len(s)-5:], "(fwd)") {
				s, reply = s[:len(s)-5], true
			} else {
				break
			}
		}
		// Steps 3 to 5: leaders and blobs.
		for {
			if n, refwd := subjLeader(s); n > 0 {
				s, reply = s[n:], reply || refwd
				continue
			}
			if n := subjBlob(s); n > 0 && n < len(s) {
				s = s[n:]
				continue
			}
			break
		}
		// Step 6: "[fwd:" ... "]".
		if len(s) >= 6 && strings.EqualFold(s[:5], "[fwd:") && s[len(s)-1] == ']' {
			s, reply = s[5:len(s)-1], true
			continue
		}
		return s, reply
	}
}

// collapseSpace turns tabs and line breaks into spaces and runs of spaces
// into one.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

// subjLeader returns the length of a subj-leader at the start of s:
// (*subj-blob subj-refwd) / WSP, and whether it was a subj-refwd, where
// subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":".
func subjLeader(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if s[0] == ' ' || s[0] == '\t' {
		return 1, false
	}
	i := 0
	for {
		n := subjBlob(s[i:])
		if n == 0 {
			break
		}
		i += n
	}
	switch {
	case hasPrefixFold(s[i:], "re"):
		i += 2
	case hasPrefixFold(s[i:], "fwd"):
		i += 3
	case hasPrefixFold(s[i:], "fw"):
		i += 2
	default:
		return 0, false
	}
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	i += subjBlob(s[i:])
	if i < len(s) && s[i] == ':' {
		return i + 1, true
	}
	return 0, false
}

// subjBlob returns the length of a subj-blob at the start of s, or 0:
// "[" *BLOBCHAR "]" *WSP, where BLOBCHAR is anything but "[" and "]".
func subjBlob(s string) int {
	if s == "" || s[0] != '[' {
		return 0
	}
	i := 1
	for i < len(s) && s[i] != '[' && s[i] != ']' {
		i++
	}
	if i == len(s) || s[i] != ']' {
		return 0
	}
	i++
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}
