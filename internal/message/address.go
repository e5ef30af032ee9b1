package message

import (
	"slices"
	"strings"
)

// envelope builds the ENVELOPE of a message root from its fields (RFC 9051
// 7.5.2).
func (h *fields) envelope() *Envelope {
	e := &Envelope{
		Date:       h.get(fDate),
		Subject:    h.get(fSubject),
		From:       ParseAddressList(h.get(fFrom)),
		Sender:     ParseAddressList(h.get(fSender)),
		ReplyTo:    ParseAddressList(h.get(fReplyTo)),
		To:         ParseAddressList(h.get(fTo)),
		Cc:         ParseAddressList(h.get(fCc)),
		Bcc:        ParseAddressList(h.get(fBcc)),
		InReplyTo:  h.get(fInReplyTo),
		MessageID:  h.get(fMessageID),
		References: msgIDs(h.get(fReferences)),
	}
	// RFC 9051 7.5.2: an absent or empty Sender or Reply-To is the From.
	if len(e.Sender) == 0 {
		e.Sender = slices.Clone(e.From)
	}
	if len(e.ReplyTo) == 0 {
		e.ReplyTo = slices.Clone(e.From)
	}
	return e
}

// msgIDs returns the message IDs in a References or In-Reply-To value
// (RFC 5322 3.6.4), with angle brackets and without white space. If there
// is no bracketed ID it falls back to the white-space separated words.
func msgIDs(v string) []string {
	var ids []string
	all := v
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			break
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			break
		}
		if id := strings.Join(strings.Fields(v[i:i+j+1]), ""); len(id) > 2 {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
	if ids == nil {
		if words := strings.Fields(all); len(words) > 0 {
			ids = words
		}
	}
	return ids
}

type tokKind uint8

const (
	tAtom    tokKind = iota // an atom, dots included, 8-bit bytes tolerated
	tQuoted                 // a quoted string; s is its content, unquoted
	tComment                // a comment; s is its content, unquoted
	tLiteral                // a domain literal, brackets included
	tSpecial                // one of < > @ , ; :
)

type token struct {
	kind  tokKind
	space bool // white space or a comment came before it
	s     string
}

// tokenize splits an address field value into tokens (RFC 5322 3.2). It
// never fails: unterminated quoted strings, comments and literals run to
// the end.
func tokenize(v string) []token {
	var toks []token
	space := false
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
			continue
		case c == '(':
			j := skipComment(v, i)
			inner := v[i+1 : j]
			inner = strings.TrimSuffix(inner, ")")
			toks = append(toks, token{tComment, space, unescape(inner)})
			i, space = j, true
			continue
		case c == '"':
			l := lexer{s: v, i: i}
			s := l.quoted()
			toks = append(toks, token{tQuoted, space, s})
			i = l.i
		case c == '[':
			j := strings.IndexByte(v[i:], ']')
			if j < 0 {
				j = len(v) - i - 1
			}
			toks = append(toks, token{tLiteral, space, v[i : i+j+1]})
			i += j + 1
		case strings.IndexByte("<>@,;:", c) >= 0:
			toks = append(toks, token{tSpecial, space, v[i : i+1]})
			i++
		default:
			j := i
			for j < len(v) && strings.IndexByte(" \t\r\n(\"[<>@,;:", v[j]) < 0 {
				j++ // a stray ")" is part of an atom
			}
			toks = append(toks, token{tAtom, space, v[i:j]})
			i = j
		}
		space = false
	}
	return toks
}

func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}

// ParseAddressList parses an address-list field value (RFC 5322 3.4) into
// IMAP address structures, tolerantly: display names with quotes and
// comments, groups, a comment as the name ("a@b (Name)"), addresses without
// angle brackets after a name, bare local parts and 8-bit bytes all give a
// best-effort result. It never fails; an empty value gives nil.
func ParseAddressList(v string) []Address {
	if v == "" {
		return nil
	}
	p := addrParser{toks: tokenize(v)}
	var out []Address
	for p.i < len(p.toks) {
		out = p.item(out, false)
	}
	return out
}

type addrParser struct {
	toks []token
	i    int
}

func (p *addrParser) special(s string) bool {
	t := p.toks[p.i]
	return t.kind == tSpecial && strings.Contains(s, t.s)
}

// item parses one mailbox or group and appends it to out. In a group it
// stops before the ";" that ends the group.
func (p *addrParser) item(out []Address, inGroup bool) []Address {
	var words []token
	var comment string
	for p.i < len(p.toks) && !p.special("<@:,;>") {
		if t := p.toks[p.i]; t.kind == tComment {
			if comment == "" {
				comment = t.s
			}
		} else {
			words = append(words, t)
		}
		p.i++
	}
	if p.i == len(p.toks) || p.special(",;>") {
		if p.i < len(p.toks) && (!inGroup || !p.special(";")) {
			p.i++ // "," or a stray ";" or ">"
		}
		if len(words) == 0 {
			return out
		}
		// A bare local part, or a phrase with no address at all.
		return append(out, Address{Name: comment, Mailbox: phrase(words), Host: MissingHost})
	}
	switch p.toks[p.i].s {
	case ":":
		p.i++
		if inGroup { // groups do not nest: take the rest as members
			return out
		}
		// RFC 5322 3.4 group; RFC 3501 7.4.2 group markers. A group with
		// no name, which markers could not tell from its end, gets none.
		name := phrase(words)
		if name != "" {
			out = append(out, Address{Mailbox: name})
		}
		for p.i < len(p.toks) && !p.special(";") {
			out = p.item(out, true)
		}
		if p.i < len(p.toks) {
			p.i++
		}
		if name == "" {
			return out
		}
		return append(out, Address{})
	case "<":
		p.i++
		a := p.angleAddr()
		a.Name = phrase(words)
		if a.Name == "" {
			a.Name = comment
		}
		p.trailer(&a)
		if a.Mailbox == "" && a.Name == "" && a.ADL == "" {
			return out // "<>"
		}
		if a.Host == "" {
			a.Host = MissingHost
		}
		return append(out, a)
	}
	// "@": an addr-spec without angle brackets. If words before it are
	// separated by white space, the last is the local part and the others
	// the name ("John Doe john@example.com").
	var a Address
	start := len(words) - 1
	for start > 0 && !words[start].space {
		start--
	}
	if start > 0 { // words[start:] is the last run of adjacent words
		a.Name = phrase(words[:start])
		words = words[start:]
	}
	a.Mailbox = local(words)
	p.i++
	a.Host, a.Name = p.domain(a.Name)
	p.trailer(&a)
	if a.Name == "" {
		a.Name = comment
	}
	if a.Host == "" {
		a.Host = MissingHost
	}
	return append(out, a)
}

// angleAddr parses what follows "<": an optional source route (RFC 5322
// 4.4 obs-route), a local part and a domain, up to ">".
func (p *addrParser) angleAddr() Address {
	var a Address
	var route []string
	for p.i < len(p.toks) && p.special("@,") {
		if p.toks[p.i].s == "," {
			p.i++
			continue
		}
		p.i++
		d, _ := p.domain("")
		route = append(route, "@"+d)
		if p.i < len(p.toks) && p.special(":") {
			p.i++
			break
		}
	}
	a.ADL = strings.Join(route, ",")
	var lp []token
	for p.i < len(p.toks) && !p.special("@>,;<") {
		if t := p.toks[p.i]; t.kind != tComment && !(t.kind == tSpecial && t.s == ":") {
			lp = append(lp, t)
		}
		p.i++
	}
	a.Mailbox = local(lp)
	if p.i < len(p.toks) && p.special("@") {
		p.i++
		a.Host, _ = p.domain("")
	}
	if p.i < len(p.toks) && p.special(">") {
		p.i++
	}
	return a
}

// domain reads a domain (RFC 5322 3.4.1) up to a delimiter, white space
// dropped. It returns name, or if that is empty the first comment, which
// names the mailbox in "a@b (Name)".
func (p *addrParser) domain(name string) (string, string) {
	var b strings.Builder
	for p.i < len(p.toks) && !p.special("<>,;:") {
		t := p.toks[p.i]
		if t.kind != tComment {
			b.WriteString(t.s)
		} else if name == "" {
			name = t.s
		}
		p.i++
	}
	return b.String(), name
}

// trailer skips what follows an address up to the next "," or ";",
// taking a comment as the name if there is none yet.
func (p *addrParser) trailer(a *Address) {
	for p.i < len(p.toks) && !p.special(",;") {
		if t := p.toks[p.i]; t.kind == tComment && a.Name == "" {
			a.Name = t.s
		}
		p.i++
	}
}

// phrase joins display-name words (RFC 5322 3.2.5) with single spaces
// where the input had white space, quoting removed.
func phrase(words []token) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 && w.space {
			b.WriteByte(' ')
		}
		b.WriteString(w.s)
	}
	return b.String()
}

// local joins the words of a local part, white space dropped (RFC 5322
// 3.4.1 obs-local-part) and quoting removed.
func local(words []token) string {
	var b strings.Builder
	for _, w := range words {
		b.WriteString(w.s)
	}
	return b.String()
}
