package imapwire

import (
	"strconv"
	"strings"
)

// String returns the command in canonical IMAP syntax, without CRLF:
// reading it back gives an equal Command. Literals (a long or multi-line
// string) are written inline as "{n}\r\n" followed by the data. APPEND's
// message data is not known to the Command and is written as its literal
// size only.
func (c *Command) String() string {
	var b strings.Builder
	b.WriteString(c.Tag + " ")
	if c.UID {
		b.WriteString("UID ")
	}
	b.WriteString(c.Name)
	mb := func(s string) string { return astringText(EncodeMailbox(s)) }
	sp := func(ss ...string) {
		for _, s := range ss {
			b.WriteString(" " + s)
		}
	}
	switch a := c.Args.(type) {
	case *UIDExpungeArgs:
		sp(a.Set.String())
	case *AuthenticateArgs:
		sp(a.Mechanism)
		if a.HasInitialResponse {
			sp(a.InitialResponse)
		}
	case *LoginArgs:
		sp(astringText(a.Username), astringText(a.Password))
	case *EnableArgs:
		sp(a.Capabilities...)
	case *SelectArgs:
		sp(mb(a.Mailbox))
		var ps []string
		if a.CondStore {
			ps = append(ps, "CONDSTORE")
		}
		if q := a.QResync; q != nil {
			s := "QRESYNC (" + strconv.FormatUint(uint64(q.UIDValidity), 10) + " " + strconv.FormatUint(q.ModSeq, 10)
			if q.KnownUIDs != nil {
				s += " " + q.KnownUIDs.String()
			}
			if q.SeqMatch != nil {
				s += " (" + q.SeqMatch.String() + " " + q.UIDMatch.String() + ")"
			}
			ps = append(ps, s+")")
		}
		if ps != nil {
			sp(list(ps))
		}
	case *CreateArgs:
		sp(mb(a.Mailbox))
		if a.SpecialUse != nil {
			sp("(USE " + list(a.SpecialUse) + ")")
		}
	case *MailboxArgs:
		sp(mb(a.Mailbox))
	case *RenameArgs:
		sp(mb(a.From), mb(a.To))
	case *ListArgs:
		if c.Name == "LSUB" {
			sp(mb(a.Reference), mb(a.Patterns[0]))
			break
		}
		if a.Select != nil {
			sp(list(a.Select))
		}
		pats := make([]string, len(a.Patterns))
		for i, p := range a.Patterns {
			pats[i] = mb(p)
		}
		sp(mb(a.Reference), list(pats))
		if a.Return != nil {
			ret := make([]string, len(a.Return))
			for i, o := range a.Return {
				ret[i] = o
				if o == "STATUS" {
					ret[i] += " " + list(a.ReturnStatus)
				}
			}
			sp("RETURN " + list(ret))
		}
	case *StatusArgs:
		sp(mb(a.Mailbox), list(a.Items))
	case *AppendArgs:
		sp(mb(a.Mailbox))
		if m := a.Message; m != nil {
			if m.Flags != nil {
				sp(list(m.Flags))
			}
			if !m.Date.IsZero() {
				sp(FormatDateTime(m.Date))
			}
			lit := "{" + strconv.FormatInt(m.Body.Size(), 10) + "}"
			if m.Body.Binary {
				lit = "~" + lit
			}
			sp(lit)
		}
	case *SearchArgs:
		if a.Return != nil {
			sp("RETURN " + list(a.Return))
		}
		if a.Charset != "" {
			sp("CHARSET " + astringText(a.Charset))
		}
		sp(a.Key.Program())
	case *FetchArgs:
		sp(a.Set.String())
		if a.Macro != "" {
			sp(a.Macro)
		} else {
			atts := make([]string, len(a.Atts))
			for i, f := range a.Atts {
				atts[i] = f.String()
			}
			sp(list(atts))
		}
		var mods []string
		if a.ChangedSince != 0 {
			mods = append(mods, "CHANGEDSINCE "+strconv.FormatUint(a.ChangedSince, 10))
		}
		if a.Vanished {
			mods = append(mods, "VANISHED")
		}
		if mods != nil {
			sp(list(mods))
		}
	case *StoreArgs:
		sp(a.Set.String())
		if a.HasUnchangedSince {
			sp("(UNCHANGEDSINCE " + strconv.FormatUint(a.UnchangedSince, 10) + ")")
		}
		item := "FLAGS"
		if a.Mode != 0 {
			item = string(a.Mode) + item
		}
		if a.Silent {
			item += ".SILENT"
		}
		sp(item, list(a.Flags))
	case *CopyArgs:
		sp(a.Set.String(), mb(a.Mailbox))
	case *SortArgs:
		if a.Return != nil {
			sp("RETURN " + list(a.Return))
		}
		cs := make([]string, len(a.Criteria))
		for i, k := range a.Criteria {
			cs[i] = k.Key
			if k.Reverse {
				cs[i] = "REVERSE " + k.Key
			}
		}
		sp(list(cs), astringText(a.Charset), a.Key.Program())
	case *ThreadArgs:
		sp(a.Algorithm, astringText(a.Charset), a.Key.Program())
	case *QuotaRootArgs:
		sp(astringText(a.Root))
	case *SetQuotaArgs:
		ls := make([]string, len(a.Limits))
		for i, l := range a.Limits {
			ls[i] = l.Resource + " " + strconv.FormatUint(l.Limit, 10)
		}
		sp(astringText(a.Root), list(ls))
	case *CompressArgs:
		sp(a.Mechanism)
	case *IDArgs:
		if a.Params == nil {
			sp("NIL")
			break
		}
		ps := make([]string, len(a.Params))
		for i, p := range a.Params {
			v := "NIL"
			if p.HasValue {
				v = stringText(p.Value)
			}
			ps[i] = stringText(p.Key) + " " + v
		}
		sp(list(ps))
	}
	return b.String()
}

func list(items []string) string { return "(" + strings.Join(items, " ") + ")" }

// stringText formats s as a string (never an atom).
func stringText(s string) string {
	if quotable(s, true) {
		return quote(s)
	}
	return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
}
