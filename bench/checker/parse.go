package main

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// fetched is one FETCH response's UID, flags (sorted, without the
// session-specific \Recent) and MODSEQ.
type fetched struct {
	uid    uint32
	flags  string
	modSeq uint64
	msgID  string // the token, when the Message-ID header was fetched
}

// selected is what SELECT reported.
type selected struct {
	exists, uidValidity, uidNext uint32
	modSeq                       uint64
	vanished                     []uint32
	changed                      []fetched
}

var (
	reExists  = regexp.MustCompile(`^\* (\d+) EXISTS`)
	reCode    = regexp.MustCompile(`\[(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ) (\d+)\]`)
	reFetch   = regexp.MustCompile(`^\* (\d+) FETCH \(`)
	reUID     = regexp.MustCompile(`\bUID (\d+)`)
	reFlags   = regexp.MustCompile(`\bFLAGS \(([^)]*)\)`)
	reModSeq  = regexp.MustCompile(`\bMODSEQ \((\d+)\)`)
	reMsgID   = regexp.MustCompile(`(?i)Message-ID: *<([^@>]+)@checker>`)
	reVanish  = regexp.MustCompile(`^\* VANISHED (?:\(EARLIER\) )?([0-9:,*]+)`)
	reAppUID  = regexp.MustCompile(`\[APPENDUID (\d+) (\d+)\]`)
	reCopyUID = regexp.MustCompile(`\[COPYUID (\d+) [0-9:,]+ ([0-9:,]+)\]`)
)

func atoi(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func parseSelect(lines [][]byte) selected {
	var s selected
	for _, b := range lines {
		l := string(b)
		if m := reExists.FindStringSubmatch(l); m != nil {
			s.exists = atoi(m[1])
		}
		if m := reCode.FindStringSubmatch(l); m != nil {
			switch m[1] {
			case "UIDVALIDITY":
				s.uidValidity = atoi(m[2])
			case "UIDNEXT":
				s.uidNext = atoi(m[2])
			case "HIGHESTMODSEQ":
				s.modSeq, _ = strconv.ParseUint(m[2], 10, 64)
			}
		}
		if m := reVanish.FindStringSubmatch(l); m != nil {
			s.vanished = append(s.vanished, expandSet(m[1])...)
		}
		if reFetch.MatchString(l) {
			if f, ok := parseFetch(l); ok {
				s.changed = append(s.changed, f)
			}
		}
	}
	return s
}

func parseFetches(lines [][]byte) []fetched {
	var out []fetched
	for _, b := range lines {
		if l := string(b); reFetch.MatchString(l) {
			if f, ok := parseFetch(l); ok {
				out = append(out, f)
			}
		}
	}
	return out
}

// fetchAnswers returns the FETCH responses among lines that answer a
// FETCH of sequence numbers 1 to n: those numbered 1 to n. A response
// numbered above n is unsolicited (RFC 9051 5.2, 7.5.2): new messages
// announced by EXISTS while the command ran, and flag changes of those,
// which the server may report at once. (An unsolicited flag change of a
// message numbered 1 to n repeats one of the answers' UIDs.)
func fetchAnswers(lines [][]byte, n uint32) []fetched {
	var out []fetched
	for _, b := range lines {
		l := string(b)
		m := reFetch.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if seq := atoi(m[1]); seq < 1 || seq > n {
			continue
		}
		if f, ok := parseFetch(l); ok {
			out = append(out, f)
		}
	}
	return out
}

func parseFetch(l string) (fetched, bool) {
	m := reUID.FindStringSubmatch(l)
	if m == nil {
		return fetched{}, false
	}
	f := fetched{uid: atoi(m[1])}
	if m := reFlags.FindStringSubmatch(l); m != nil {
		var fl []string
		for _, x := range strings.Fields(m[1]) {
			if !strings.EqualFold(x, `\Recent`) {
				fl = append(fl, x)
			}
		}
		slices.Sort(fl)
		f.flags = strings.Join(fl, " ")
	}
	if m := reModSeq.FindStringSubmatch(l); m != nil {
		f.modSeq, _ = strconv.ParseUint(m[1], 10, 64)
	}
	if m := reMsgID.FindStringSubmatch(l); m != nil {
		f.msgID = m[1]
	}
	return f, true
}

// expandSet expands a UID set without "*" ("3:5,9" → 3 4 5 9).
func expandSet(set string) []uint32 {
	var out []uint32
	for _, r := range strings.Split(set, ",") {
		lo, hi, ok := strings.Cut(r, ":")
		a := atoi(lo)
		b := a
		if ok {
			b = atoi(hi)
		}
		if a > b {
			a, b = b, a
		}
		for u := a; u <= b && u != 0; u++ {
			out = append(out, u)
		}
	}
	return out
}

func parseSearch(lines [][]byte) []uint32 {
	var out []uint32
	for _, b := range lines {
		l := string(b)
		if rest, ok := strings.CutPrefix(l, "* SEARCH"); ok {
			for _, f := range strings.Fields(rest) {
				out = append(out, atoi(f))
			}
		}
	}
	return out
}

func appendUID(tagged string) (uint32, uint32, bool) {
	m := reAppUID.FindStringSubmatch(tagged)
	if m == nil {
		return 0, 0, false
	}
	return atoi(m[1]), atoi(m[2]), true
}

// copyUID returns the destination UIDVALIDITY and the (single) new UID.
func copyUID(line string) (uint32, uint32, bool) {
	m := reCopyUID.FindStringSubmatch(line)
	if m == nil {
		return 0, 0, false
	}
	uids := expandSet(m[2])
	if len(uids) != 1 {
		return 0, 0, false
	}
	return atoi(m[1]), uids[0], true
}
