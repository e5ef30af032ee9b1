package imapserver

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/message"
)

// cmdSort: SORT and UID SORT (RFC 5256 3, DISPLAYFROM/DISPLAYTO RFC 5957).
func (c *conn) cmdSort(a *imapwire.SortArgs, byUID bool) result {
	if a.Return != nil {
		return bad("SORT RETURN (ESORT) is not supported")
	}
	if !charsetOK(a.Charset) {
		return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset "+a.Charset)
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	found, err := c.search(ctx, a.Key)
	if err != nil {
		return c.storeError("sort", err, "")
	}
	keys := make(map[*candidate][]any, len(found))
	for _, x := range found {
		var k []any
		for _, cr := range a.Criteria {
			k = append(k, sortKey(x, cr.Key))
		}
		keys[x] = k
	}
	slices.SortStableFunc(found, func(p, q *candidate) int {
		for i, cr := range a.Criteria {
			r := compareKeys(keys[p][i], keys[q][i])
			if cr.Reverse {
				r = -r
			}
			if r != 0 {
				return r
			}
		}
		return cmp.Compare(p.seq, q.seq) // RFC 5256 3: ties by sequence number
	})
	var b strings.Builder
	b.WriteString("* SORT")
	for _, x := range found {
		n := uint64(x.seq)
		if byUID {
			n = uint64(x.row().UID)
		}
		b.WriteString(" " + strconv.FormatUint(n, 10))
	}
	c.w.Raw(b.String() + "\r\n")
	return ok("SORT completed")
}

func compareKeys(a, b any) int {
	switch x := a.(type) {
	case string:
		return strings.Compare(x, b.(string))
	case int64:
		return cmp.Compare(x, b.(int64))
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return 0
}

// sortKey computes one RFC 5256 sort key; strings compare as
// i;ascii-casemap (ASCII upper-cased).
func sortKey(x *candidate, key string) any {
	env := x.m.structure().Envelope
	if env == nil {
		env = &message.Envelope{}
	}
	first := func(as []message.Address) *message.Address {
		for i := range as {
			if as[i].Host != "" || as[i].Mailbox != "" {
				return &as[i]
			}
		}
		return nil
	}
	mailbox := func(as []message.Address) string {
		if a := first(as); a != nil {
			return asciiUpper(a.Mailbox)
		}
		return ""
	}
	display := func(as []message.Address) string {
		a := first(as)
		switch {
		case a == nil:
			return ""
		case a.Name != "":
			return asciiUpper(message.DecodeHeader(a.Name))
		}
		return asciiUpper(a.Mailbox + "@" + a.Host)
	}
	switch key {
	case "ARRIVAL":
		return x.row().Meta.InternalDate
	case "DATE":
		return x.sentDate()
	case "SIZE":
		return x.row().Meta.Size
	case "SUBJECT":
		s, _ := baseSubject(env.Subject)
		return asciiUpper(s)
	case "FROM":
		return mailbox(env.From)
	case "TO":
		return mailbox(env.To)
	case "CC":
		return mailbox(env.Cc)
	case "DISPLAYFROM":
		return display(env.From)
	case "DISPLAYTO":
		return display(env.To)
	}
	return ""
}

func asciiUpper(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}, s)
}

var (
	subjTrailer = regexp.MustCompile(`(?i)(\s*\(fwd\))+\s*$`)
	subjBlob    = `\[[^\[\]]*\]\s*`
	subjLeader  = regexp.MustCompile(`(?i)^(` + subjBlob + `)*(re|fwd?)\s*(` + subjBlob + `)?:\s*`)
	subjBlobRe  = regexp.MustCompile(`^` + subjBlob)
	subjFwd     = regexp.MustCompile(`(?i)^\[fwd:(.*)\]$`)
	spaces      = regexp.MustCompile(`\s+`)
)

// baseSubject extracts the base subject (RFC 5256 2.1) and reports
// whether the subject marked a reply or forward.
func baseSubject(raw string) (string, bool) {
	s := strings.TrimSpace(spaces.ReplaceAllString(message.DecodeHeader(raw), " "))
	reply := false
	for {
		if t := subjTrailer.ReplaceAllString(s, ""); t != s { // step 2
			s, reply = t, true
		}
		for { // steps 3 and 4
			if loc := subjLeader.FindStringIndex(s); loc != nil {
				s, reply = s[loc[1]:], true
				continue
			}
			if loc := subjBlobRe.FindStringIndex(s); loc != nil && loc[1] < len(s) {
				s = s[loc[1]:]
				continue
			}
			break
		}
		if m := subjFwd.FindStringSubmatch(s); m != nil { // step 5
			s, reply = strings.TrimSpace(m[1]), true
			continue
		}
		return s, reply
	}
}
