package imapwire

import (
	"strconv"
	"strings"
)

// FetchArgs: FETCH and UID FETCH (RFC 9051 6.4.5) with the CHANGEDSINCE and
// VANISHED modifiers (RFC 7162 3.1.4, 3.2.6). Macro is "ALL", "FAST" or
// "FULL" when one was used; Atts then holds its expansion.
type FetchArgs struct {
	Set          SeqSet
	Atts         []FetchAtt
	Macro        string
	ChangedSince uint64 // 0 if absent
	Vanished     bool
}

// FetchAtt is one fetch attribute (RFC 9051 6.4.5). Name is upper-cased:
// ENVELOPE, FLAGS, INTERNALDATE, RFC822, RFC822.HEADER, RFC822.SIZE,
// RFC822.TEXT, BODY, BODYSTRUCTURE, UID, MODSEQ (RFC 7162), PREVIEW (RFC
// 8970), SAVEDATE (RFC 8514), EMAILID, THREADID (RFC 8474), or BINARY and
// BINARY.SIZE (RFC 3516). BODY with a Section is BODY[section]; Peek marks
// BODY.PEEK and BINARY.PEEK.
type FetchAtt struct {
	Name    string
	Peek    bool
	Section *Section
	Partial *Partial
	Lazy    bool // PREVIEW (LAZY)
}

// Section is a body section (RFC 9051 6.4.5): Part is the part number,
// Specifier one of "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME,
// and Fields the upper-cased header field names of HEADER.FIELDS[.NOT].
type Section struct {
	Part      []int
	Specifier string
	Fields    []string
}

// Partial is <offset.count> of BODY[]<> and BINARY[]<>.
type Partial struct{ Offset, Count uint64 }

func (r *Reader) fetchArgs() *FetchArgs {
	r.sp("before sequence set")
	a := &FetchArgs{Set: r.seqSet("FETCH")}
	r.sp("before fetch attributes")
	if r.take('(') {
		for {
			a.Atts = append(a.Atts, r.fetchAtt())
			if r.take(')') {
				break
			}
			r.sp("or \")\" between fetch attributes")
		}
	} else {
		save := r.pos
		switch m := r.keyword("fetch attribute"); m {
		case "ALL", "FAST", "FULL":
			a.Macro = m
			a.Atts = []FetchAtt{{Name: "FLAGS"}, {Name: "INTERNALDATE"}, {Name: "RFC822.SIZE"}}
			if m != "FAST" {
				a.Atts = append(a.Atts, FetchAtt{Name: "ENVELOPE"})
			}
			if m == "FULL" {
				a.Atts = append(a.Atts, FetchAtt{Name: "BODY"})
			}
		default:
			r.pos = save
			a.Atts = []FetchAtt{r.fetchAtt()}
		}
	}
	if r.take(' ') {
		r.parenList("fetch modifiers", false, func() {
			switch m := r.keyword("fetch modifier"); m {
			case "CHANGEDSINCE":
				r.sp("after CHANGEDSINCE")
				if a.ChangedSince = r.number64("CHANGEDSINCE mod-sequence"); a.ChangedSince == 0 {
					r.fail("CHANGEDSINCE mod-sequence must not be zero")
				}
			case "VANISHED":
				a.Vanished = true
			default:
				r.fail("unknown fetch modifier %q", m)
			}
		})
		// RFC 7162 3.2.6: VANISHED only in UID FETCH, with CHANGEDSINCE.
		if a.Vanished && (r.cmd != "UID FETCH" || a.ChangedSince == 0) {
			r.fail("VANISHED needs UID FETCH and CHANGEDSINCE (RFC 7162 3.2.6)")
		}
	}
	return a
}

func (r *Reader) fetchAtt() FetchAtt {
	name := r.keyword("fetch attribute")
	att := FetchAtt{Name: name}
	switch name {
	case "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT",
		"BODYSTRUCTURE", "UID", "MODSEQ", "SAVEDATE", "EMAILID", "THREADID":
		return att
	case "BODY", "BODY.PEEK":
		att.Name, att.Peek = "BODY", name == "BODY.PEEK"
		if r.peek() != '[' {
			if att.Peek {
				r.fail("expected [ after BODY.PEEK")
			}
			return att
		}
		att.Section = r.section()
	case "BINARY", "BINARY.PEEK", "BINARY.SIZE":
		att.Name, att.Peek = strings.TrimSuffix(name, ".PEEK"), name == "BINARY.PEEK"
		att.Section = r.binarySection()
		if name == "BINARY.SIZE" {
			return att
		}
	case "PREVIEW":
		// RFC 8970 3.1: PREVIEW [SP "(" preview-mod *(SP preview-mod) ")"].
		if r.peek() == ' ' && r.pos+1 < len(r.line) && r.line[r.pos+1] == '(' {
			r.pos++
			r.parenList("PREVIEW modifiers", false, func() {
				if m := r.keyword("PREVIEW modifier"); m != "LAZY" {
					r.fail("unknown PREVIEW modifier %q", m)
				}
				att.Lazy = true
			})
		}
		return att
	default:
		r.fail("unknown fetch attribute %q", name)
	}
	if r.take('<') {
		p := &Partial{Offset: r.number64("partial offset")}
		r.expect('.', "in partial")
		if p.Count = r.number64("partial length"); p.Count == 0 {
			r.fail("partial length must not be zero")
		}
		r.expect('>', "end of partial")
		att.Partial = p
	}
	return att
}

func (r *Reader) sectionPart() []int {
	var part []int
	for isDigit(r.peek()) {
		part = append(part, int(r.nzNumber("section part number")))
		if len(part) > 100 {
			r.fail("section part number too deep")
		}
		if r.peek() != '.' || r.pos+1 >= len(r.line) || !isDigit(r.line[r.pos+1]) {
			break
		}
		r.pos++
	}
	return part
}

// section parses "[" [section-spec] "]".
func (r *Reader) section() *Section {
	r.expect('[', "start of section")
	s := &Section{Part: r.sectionPart()}
	if s.Part != nil && !r.take('.') {
		r.expect(']', "end of section")
		return s
	}
	if s.Part == nil && r.take(']') {
		return s
	}
	s.Specifier = r.keyword("section text (HEADER, HEADER.FIELDS, TEXT, MIME)")
	switch s.Specifier {
	case "HEADER", "TEXT":
	case "MIME":
		if s.Part == nil {
			r.fail("MIME section needs a part number")
		}
	case "HEADER.FIELDS", "HEADER.FIELDS.NOT":
		r.sp("before header field list")
		r.parenList("header field list", false, func() {
			s.Fields = append(s.Fields, strings.ToUpper(r.astring("header field name")))
		})
	default:
		r.fail("unknown section text %q", s.Specifier)
	}
	r.expect(']', "end of section")
	return s
}

// binarySection parses section-binary: "[" [section-part] "]" (RFC 3516).
func (r *Reader) binarySection() *Section {
	r.expect('[', "start of binary section")
	s := &Section{Part: r.sectionPart()}
	r.expect(']', "end of binary section (only a part number is allowed)")
	return s
}

// String returns the attribute as a client writes it; the same text, with
// the partial's count removed, names the item in the response.
func (a FetchAtt) String() string {
	var b strings.Builder
	b.WriteString(a.Name)
	if a.Peek {
		b.WriteString(".PEEK")
	}
	if a.Section != nil {
		b.WriteString(a.Section.String())
	}
	if a.Partial != nil {
		b.WriteString("<" + strconv.FormatUint(a.Partial.Offset, 10) + "." + strconv.FormatUint(a.Partial.Count, 10) + ">")
	}
	if a.Lazy {
		b.WriteString(" (LAZY)")
	}
	return b.String()
}

// String returns the section with its brackets.
func (s *Section) String() string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range s.Part {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Itoa(n))
	}
	if s.Specifier != "" {
		if len(s.Part) > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.Specifier)
	}
	if s.Fields != nil {
		b.WriteString(" (")
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(astringText(f))
		}
		b.WriteByte(')')
	}
	b.WriteByte(']')
	return b.String()
}

// StoreArgs: STORE and UID STORE (RFC 9051 6.4.6) with UNCHANGEDSINCE (RFC
// 7162 3.1.3). Mode is '+', '-' or 0 (replace).
type StoreArgs struct {
	Set               SeqSet
	UnchangedSince    uint64
	HasUnchangedSince bool
	Mode              byte
	Silent            bool
	Flags             []string
}

func (r *Reader) storeArgs() *StoreArgs {
	r.sp("before sequence set")
	a := &StoreArgs{Set: r.seqSet("STORE")}
	r.sp("after sequence set")
	if r.peek() == '(' {
		r.parenList("STORE modifiers", false, func() {
			if m := r.keyword("STORE modifier"); m != "UNCHANGEDSINCE" {
				r.fail("unknown STORE modifier %q", m)
			}
			r.sp("after UNCHANGEDSINCE")
			a.UnchangedSince, a.HasUnchangedSince = r.number64("UNCHANGEDSINCE mod-sequence"), true
		})
		r.sp("after STORE modifiers")
	}
	if r.take('+') {
		a.Mode = '+'
	} else if r.take('-') {
		a.Mode = '-'
	}
	switch item := r.keyword("FLAGS, +FLAGS or -FLAGS"); item {
	case "FLAGS":
	case "FLAGS.SILENT":
		a.Silent = true
	default:
		r.fail("expected FLAGS, +FLAGS or -FLAGS (optionally .SILENT), got %q", item)
	}
	r.sp("before flags")
	if r.peek() == '(' {
		a.Flags = r.flagList()
		return a
	}
	a.Flags = []string{r.flag()}
	for r.take(' ') {
		a.Flags = append(a.Flags, r.flag())
	}
	return a
}
