package imapwire

import "github.com/quiremail/quire/internal/message"

// Envelope writes the ENVELOPE of a message (RFC 9051 7.5.2, RFC 3501 7.4.2:
// the same shape). Empty fields are NIL; a nil e writes an all-NIL
// envelope.
func (w *Writer) Envelope(e *message.Envelope) {
	if e == nil {
		e = &message.Envelope{}
	}
	w.Open()
	w.NString(e.Date)
	w.SP()
	w.NString(e.Subject)
	for _, l := range [][]message.Address{e.From, e.Sender, e.ReplyTo, e.To, e.Cc, e.Bcc} {
		w.SP()
		w.addresses(l)
	}
	w.SP()
	w.NString(e.InReplyTo)
	w.SP()
	w.NString(e.MessageID)
	w.Close()
}

// addresses writes an address list or NIL. Group markers are written as
// RFC 9051 7.5.2 asks: (NIL NIL "name" NIL) starts a group, (NIL NIL NIL
// NIL) ends it; message.Address already has that shape.
func (w *Writer) addresses(l []message.Address) {
	if len(l) == 0 {
		w.NIL()
		return
	}
	w.Open()
	for _, a := range l {
		w.Open()
		w.NString(a.Name)
		w.SP()
		w.NString(a.ADL)
		w.SP()
		w.NString(a.Mailbox)
		w.SP()
		w.NString(a.Host)
		w.Close()
	}
	w.Close()
}

// BodyStructure writes the body structure of p (RFC 9051 7.5.2; RFC 3501
// 7.4.2 has the same shapes): BODY when extended is false, BODYSTRUCTURE
// when it is true. p is a message root; a message/rfc822 or message/global
// part's encapsulated envelope and body come from p.Parts[0]. A multipart
// without children, which has no syntax, is written with one empty
// text/plain part, as Dovecot does.
func (w *Writer) BodyStructure(p *message.Part, extended bool) {
	w.Open()
	switch {
	case p.IsMultipart():
		if len(p.Parts) == 0 {
			w.emptyTextPart(extended)
		}
		for _, c := range p.Parts {
			w.BodyStructure(c, extended)
		}
		w.SP()
		w.String(p.Subtype)
		if extended {
			w.SP()
			w.params(p.Params)
			w.extTail(p)
		}
	default:
		w.String(p.Type)
		w.SP()
		w.String(p.Subtype)
		w.SP()
		ps := p.Params
		if p.Type == "text" && p.Param("charset") == "" {
			// RFC 2045 5.2: the default charset of text is us-ascii; say
			// so, as Dovecot does.
			ps = append(ps[:len(ps):len(ps)], message.Param{Name: "charset", Value: "us-ascii"})
		}
		w.params(ps)
		w.SP()
		w.NString(p.ID)
		w.SP()
		w.NString(p.Description)
		w.SP()
		w.String(p.Encoding)
		w.SP()
		w.Number(uint64(max(0, p.End-p.BodyStart)))
		switch {
		case p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global"):
			// body-type-msg: envelope, body and lines are required even
			// when a limit kept the encapsulated message unscanned.
			w.SP()
			if p.IsMessage() {
				w.Envelope(p.Parts[0].Envelope)
				w.SP()
				w.BodyStructure(p.Parts[0], extended)
			} else {
				w.Envelope(nil)
				w.SP()
				w.emptyTextPart(extended)
			}
			w.SP()
			w.Number(uint64(max(0, p.Lines)))
		case p.Type == "text":
			w.SP()
			w.Number(uint64(max(0, p.Lines)))
		}
		if extended {
			w.SP()
			w.NString(p.MD5)
			w.extTail(p)
		}
	}
	w.Close()
}

// emptyTextPart writes the inside of an empty text/plain part.
func (w *Writer) emptyTextPart(extended bool) {
	w.Raw(`("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0`)
	if extended {
		w.Raw(" NIL NIL NIL NIL")
	}
	w.Close()
}

// extTail writes SP body-fld-dsp SP body-fld-lang SP body-fld-loc.
func (w *Writer) extTail(p *message.Part) {
	w.SP()
	if p.Disposition == "" {
		w.NIL()
	} else {
		w.Open()
		w.String(p.Disposition)
		w.SP()
		w.params(p.DispositionParams)
		w.Close()
	}
	w.SP()
	if len(p.Language) == 0 {
		w.NIL()
	} else {
		w.Open()
		for i, l := range p.Language {
			if i > 0 {
				w.SP()
			}
			w.String(l)
		}
		w.Close()
	}
	w.SP()
	w.NString(p.Location)
}

// params writes body-fld-param: NIL or ("name" "value" ...).
func (w *Writer) params(ps []message.Param) {
	if len(ps) == 0 {
		w.NIL()
		return
	}
	w.Open()
	for i, p := range ps {
		if i > 0 {
			w.SP()
		}
		w.String(p.Name)
		w.SP()
		w.String(p.Value)
	}
	w.Close()
}
