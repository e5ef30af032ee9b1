package imapwire

import (
	"strconv"
	"strings"
	"time"
)

// maxSearchDepth bounds the nesting of NOT, OR and parenthesized keys.
const maxSearchDepth = 64

// SearchArgs: SEARCH and UID SEARCH (RFC 9051 6.4.4) with ESEARCH return
// options (RFC 9051 6.4.4.1, RFC 5182 SAVE). Return is nil without RETURN;
// "RETURN ()" gives an empty, non-nil Return, which means ALL.
type SearchArgs struct {
	Charset string // upper-cased, "" if absent
	Return  []string
	Key     *SearchKey // always an AND of the top-level keys
}

// SearchKey is a node of the search program (RFC 9051 6.4.4). Name is the
// upper-cased key, "SEQSET" for a bare sequence set, "AND" for a
// parenthesized list or the top level. The fields used depend on Name:
//
//	Value: BCC BODY CC FROM SUBJECT TEXT TO KEYWORD UNKEYWORD HEADER EMAILID THREADID
//	Field: HEADER (as sent)
//	Date: BEFORE ON SINCE SENT* SAVED*   Number: LARGER SMALLER YOUNGER OLDER MODSEQ
//	Set: SEQSET UID   Sub: AND (any), OR (two), NOT (one)
//	EntryName, EntryType: MODSEQ's optional metadata item (RFC 7162 3.1.5)
type SearchKey struct {
	Name                 string
	Value, Field         string
	Date                 time.Time
	Number               uint64
	Set                  SeqSet
	Sub                  []*SearchKey
	EntryName, EntryType string
}

func (r *Reader) searchArgs() *SearchArgs {
	a := &SearchArgs{}
	r.sp("before search criteria")
	if r.takeFold("RETURN ") {
		a.Return = r.searchReturn()
		r.sp("after RETURN options")
	}
	a.Charset, a.Key = r.searchProgram(false)
	return a
}

// searchReturn parses "(" [search-return-opt *(SP search-return-opt)] ")".
func (r *Reader) searchReturn() []string {
	ret := []string{}
	r.parenList("RETURN options", true, func() {
		switch o := r.keyword("search return option"); o {
		case "MIN", "MAX", "ALL", "COUNT", "SAVE":
			ret = append(ret, o)
		default:
			r.fail("unknown search return option %q", o)
		}
	})
	return ret
}

// searchProgram parses ["CHARSET" SP charset SP] search-key *(SP
// search-key); SORT and THREAD require the charset (RFC 5256 4).
func (r *Reader) searchProgram(needCharset bool) (string, *SearchKey) {
	var charset string
	if needCharset {
		charset = strings.ToUpper(r.astring("charset"))
		r.sp("after charset")
	} else if r.takeFold("CHARSET ") {
		charset = strings.ToUpper(r.astring("charset"))
		r.sp("after charset")
	}
	k := &SearchKey{Name: "AND"}
	for {
		k.Sub = append(k.Sub, r.searchKey(0))
		if !r.take(' ') {
			return charset, k
		}
	}
}

func (r *Reader) searchKey(depth int) *SearchKey {
	if depth > maxSearchDepth {
		r.fail("search keys nested more than %d deep", maxSearchDepth)
	}
	if r.take('(') {
		k := &SearchKey{Name: "AND"}
		for {
			k.Sub = append(k.Sub, r.searchKey(depth+1))
			if r.take(')') {
				return k
			}
			r.sp("or \")\" between search keys")
		}
	}
	if c := r.peek(); isDigit(c) || c == '*' || c == '$' {
		return &SearchKey{Name: "SEQSET", Set: r.seqSet("search key")}
	}
	k := &SearchKey{Name: r.keyword("search key")}
	arg := func() { r.sp("after " + k.Name) }
	switch k.Name {
	case "ALL", "ANSWERED", "DELETED", "FLAGGED", "SEEN", "UNANSWERED", "UNDELETED", "UNFLAGGED",
		"UNSEEN", "DRAFT", "UNDRAFT", "NEW", "OLD", "RECENT", "SAVEDATESUPPORTED":
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		arg()
		k.Value = r.astring(k.Name + " string")
	case "KEYWORD", "UNKEYWORD":
		arg()
		k.Value = r.atom("flag keyword")
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		arg()
		k.Date = r.date(k.Name + " date")
	case "HEADER":
		arg()
		k.Field = r.astring("header field name")
		r.sp("after header field name")
		k.Value = r.astring("header value")
	case "LARGER", "SMALLER":
		arg()
		k.Number = r.number64(k.Name + " size")
	case "YOUNGER", "OLDER":
		arg() // RFC 5032
		k.Number = uint64(r.nzNumber(k.Name + " interval"))
	case "UID":
		arg()
		k.Set = r.seqSet("UID search key")
	case "NOT":
		arg()
		k.Sub = []*SearchKey{r.searchKey(depth + 1)}
	case "OR":
		arg()
		a := r.searchKey(depth + 1)
		r.sp("between OR keys")
		k.Sub = []*SearchKey{a, r.searchKey(depth + 1)}
	case "MODSEQ":
		// RFC 7162 3.1.5: MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer.
		arg()
		if r.peek() == '"' {
			k.EntryName = r.quoted("MODSEQ entry name")
			r.sp("after MODSEQ entry name")
			switch k.EntryType = r.keyword("MODSEQ entry type"); k.EntryType {
			case "PRIV", "SHARED", "ALL":
			default:
				r.fail("expected MODSEQ entry type priv, shared or all, got %q", k.EntryType)
			}
			r.sp("after MODSEQ entry type")
		}
		k.Number = r.number64("MODSEQ mod-sequence")
	case "EMAILID", "THREADID":
		arg() // RFC 8474 6
		k.Value = r.run(func(c byte) bool { return isKeywordChar(c) && c != '.' && c != '=' })
		if k.Value == "" || len(k.Value) > 255 {
			r.fail("expected object id (1 to 255 letters, digits, - or _) after %s", k.Name)
		}
	default:
		r.fail("unknown search key %q", k.Name)
	}
	return k
}

// String returns the key in IMAP syntax; an AND node prints as a
// parenthesized list (the top level: use Program).
func (k *SearchKey) String() string {
	var b strings.Builder
	k.write(&b)
	return b.String()
}

// Program returns the top-level key's search keys without parentheses.
func (k *SearchKey) Program() string {
	if k.Name != "AND" {
		return k.String()
	}
	var b strings.Builder
	for i, s := range k.Sub {
		if i > 0 {
			b.WriteByte(' ')
		}
		s.write(&b)
	}
	return b.String()
}

func (k *SearchKey) write(b *strings.Builder) {
	switch k.Name {
	case "AND":
		b.WriteByte('(')
		for i, s := range k.Sub {
			if i > 0 {
				b.WriteByte(' ')
			}
			s.write(b)
		}
		b.WriteByte(')')
		return
	case "SEQSET":
		b.WriteString(k.Set.String())
		return
	}
	b.WriteString(k.Name)
	switch k.Name {
	case "BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO":
		b.WriteString(" " + astringText(k.Value))
	case "KEYWORD", "UNKEYWORD", "EMAILID", "THREADID":
		b.WriteString(" " + k.Value)
	case "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE", "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE":
		b.WriteString(" " + FormatDate(k.Date))
	case "HEADER":
		b.WriteString(" " + astringText(k.Field) + " " + astringText(k.Value))
	case "LARGER", "SMALLER", "YOUNGER", "OLDER":
		b.WriteString(" " + strconv.FormatUint(k.Number, 10))
	case "MODSEQ":
		if k.EntryType != "" {
			b.WriteString(" " + quote(k.EntryName) + " " + k.EntryType)
		}
		b.WriteString(" " + strconv.FormatUint(k.Number, 10))
	case "UID":
		b.WriteString(" " + k.Set.String())
	case "NOT", "OR":
		for _, s := range k.Sub {
			b.WriteByte(' ')
			s.write(b)
		}
	}
}

// SortArgs: SORT and UID SORT (RFC 5256 3), with ESORT return options (RFC
// 5267 3). The charset is required.
type SortArgs struct {
	Criteria []SortCriterion
	Charset  string
	Return   []string
	Key      *SearchKey
}

// SortCriterion is one sort key: ARRIVAL, CC, DATE, FROM, SIZE, SUBJECT, TO,
// DISPLAYFROM or DISPLAYTO (RFC 5957).
type SortCriterion struct {
	Key     string
	Reverse bool
}

func (r *Reader) sortArgs() *SortArgs {
	a := &SortArgs{}
	r.sp("before sort criteria")
	if r.takeFold("RETURN ") {
		a.Return = r.searchReturn()
		r.sp("after RETURN options")
	}
	r.parenList("sort criteria", false, func() {
		c := SortCriterion{Key: r.keyword("sort key")}
		if c.Key == "REVERSE" {
			r.sp("after REVERSE")
			c.Reverse, c.Key = true, r.keyword("sort key")
		}
		switch c.Key {
		case "ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO":
		default:
			r.fail("unknown sort key %q", c.Key)
		}
		a.Criteria = append(a.Criteria, c)
	})
	r.sp("after sort criteria")
	a.Charset, a.Key = r.searchProgram(true)
	return a
}

// ThreadArgs: THREAD and UID THREAD (RFC 5256 3); Algorithm is upper-cased
// (REFERENCES, ORDEREDSUBJECT, or another the session may refuse).
type ThreadArgs struct {
	Algorithm string
	Charset   string
	Key       *SearchKey
}

func (r *Reader) threadArgs() *ThreadArgs {
	r.sp("before thread algorithm")
	a := &ThreadArgs{Algorithm: strings.ToUpper(r.atom("thread algorithm"))}
	r.sp("after thread algorithm")
	a.Charset, a.Key = r.searchProgram(true)
	return a
}
