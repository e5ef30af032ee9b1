package message

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrCorrupt is returned by Unmarshal for bytes that MarshalBinary did not
// produce.
var ErrCorrupt = errors.New("message: corrupt structure encoding")

// The encoding, version 1: a version byte, then the root part.
//
//	part     = flags type offsets [params] [encoding] [id] [description]
//	           [md5] [disposition] [dispparams] [language] [location]
//	           [envelope] [parts]   ; optional items as flags say
//	type     = uvarint code, and if code is 0: string string
//	offsets  = varint(HeaderStart-base) varint(BodyStart-HeaderStart)
//	           varint(End-BodyStart) varint(Lines); base is the parent's
//	           BodyStart, 0 for the root
//	params   = count *(string string)
//	envelope = flags, then each present field in Envelope's order
//	addrs    = count *(mask *string)
//	string   = uvarint length, bytes
//
// The last two part flags carry no item: HeaderNUL and BodyNUL. They were
// added after version 1 was in use; encodings without them decode with
// both false, so the version stayed. Counts of present items are at least
// 1. Everything round-trips exactly.
const codecVersion = 1

// maxNesting bounds the depth of the part tree both ways, so that decoding
// garbage cannot exhaust the stack and whatever encodes also decodes.
const maxNesting = 4096

const (
	pParams = 1 << iota
	pEncoding
	pID
	pDescription
	pMD5
	pDisposition
	pDispositionParams
	pLanguage
	pLocation
	pEnvelope
	pParts
	pHeaderNUL
	pBodyNUL
	pAll = 1<<iota - 1
)

const (
	eDate = 1 << iota
	eSubject
	eFrom
	eSender
	eSenderIsFrom
	eReplyTo
	eReplyToIsFrom
	eTo
	eCc
	eBcc
	eInReplyTo
	eMessageID
	eReferences
	eAll = 1<<iota - 1
)

const (
	aName = 1 << iota
	aADL
	aMailbox
	aHost
	aMissingHost
	aAll = 1<<iota - 1
)

// typeCode returns the code of a common media type, or 0. Codes are
// stored: the list may grow at its end, never change.
func typeCode(t, s string) uint64 {
	for c := uint64(1); ; c++ {
		ct, cs := commonType(c)
		if ct == "" {
			return 0
		}
		if ct == t && cs == s {
			return c
		}
	}
}

func commonType(c uint64) (string, string) {
	switch c {
	case 1:
		return "text", "plain"
	case 2:
		return "text", "html"
	case 3:
		return "multipart", "mixed"
	case 4:
		return "multipart", "alternative"
	case 5:
		return "multipart", "related"
	case 6:
		return "message", "rfc822"
	case 7:
		return "application", "octet-stream"
	case 8:
		return "application", "pdf"
	case 9:
		return "image", "jpeg"
	case 10:
		return "image", "png"
	case 11:
		return "multipart", "signed"
	case 12:
		return "application", "pkcs7-signature"
	case 13:
		return "text", "calendar"
	case 14:
		return "multipart", "report"
	case 15:
		return "message", "delivery-status"
	}
	return "", ""
}

// MarshalBinary encodes p's tree compactly for storage; Unmarshal restores
// it exactly.
func (p *Part) MarshalBinary() ([]byte, error) {
	e := encoder{b: make([]byte, 1, 128)}
	e.b[0] = codecVersion
	if err := e.part(p, 0, 0); err != nil {
		return nil, err
	}
	return e.b, nil
}

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }

func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) params(ps []Param) {
	e.uvarint(uint64(len(ps)))
	for _, x := range ps {
		e.str(x.Name)
		e.str(x.Value)
	}
}

func (e *encoder) strs(ss []string) {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

func (e *encoder) addrs(as []Address) {
	e.uvarint(uint64(len(as)))
	for _, a := range as {
		var m byte
		for i, s := range [...]string{a.Name, a.ADL, a.Mailbox, a.Host} {
			if s != "" {
				m |= 1 << i
			}
		}
		if a.Host == MissingHost {
			m = m&^aHost | aMissingHost
		}
		e.b = append(e.b, m)
		for i, s := range [...]string{a.Name, a.ADL, a.Mailbox, a.Host} {
			if m&(1<<i) != 0 {
				e.str(s)
			}
		}
	}
}

func (e *encoder) part(p *Part, base int64, depth int) error {
	if depth >= maxNesting {
		return fmt.Errorf("message: marshal: parts nested deeper than %d", maxNesting)
	}
	var f uint64
	for i, set := range [...]bool{len(p.Params) > 0, p.Encoding != "7BIT", p.ID != "",
		p.Description != "", p.MD5 != "", p.Disposition != "", len(p.DispositionParams) > 0,
		len(p.Language) > 0, p.Location != "", p.Envelope != nil, len(p.Parts) > 0, p.HeaderNUL, p.BodyNUL} {
		if set {
			f |= 1 << i
		}
	}
	e.uvarint(f)
	c := typeCode(p.Type, p.Subtype)
	e.uvarint(c)
	if c == 0 {
		e.str(p.Type)
		e.str(p.Subtype)
	}
	e.varint(p.HeaderStart - base)
	e.varint(p.BodyStart - p.HeaderStart)
	e.varint(p.End - p.BodyStart)
	e.varint(p.Lines)
	if f&pParams != 0 {
		e.params(p.Params)
	}
	for i, s := range [...]string{p.Encoding, p.ID, p.Description, p.MD5, p.Disposition} {
		if f&(pEncoding<<i) != 0 {
			e.str(s)
		}
	}
	if f&pDispositionParams != 0 {
		e.params(p.DispositionParams)
	}
	if f&pLanguage != 0 {
		e.strs(p.Language)
	}
	if f&pLocation != 0 {
		e.str(p.Location)
	}
	if f&pEnvelope != 0 {
		e.envelope(p.Envelope)
	}
	if f&pParts != 0 {
		e.uvarint(uint64(len(p.Parts)))
		for _, c := range p.Parts {
			if err := e.part(c, p.BodyStart, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *encoder) envelope(v *Envelope) {
	senderIsFrom := len(v.From) > 0 && slices.Equal(v.Sender, v.From)
	replyToIsFrom := len(v.From) > 0 && slices.Equal(v.ReplyTo, v.From)
	var f uint64
	for i, set := range [...]bool{v.Date != "", v.Subject != "", len(v.From) > 0,
		len(v.Sender) > 0 && !senderIsFrom, senderIsFrom,
		len(v.ReplyTo) > 0 && !replyToIsFrom, replyToIsFrom,
		len(v.To) > 0, len(v.Cc) > 0, len(v.Bcc) > 0,
		v.InReplyTo != "", v.MessageID != "", len(v.References) > 0} {
		if set {
			f |= 1 << i
		}
	}
	e.uvarint(f)
	if f&eDate != 0 {
		e.str(v.Date)
	}
	if f&eSubject != 0 {
		e.str(v.Subject)
	}
	for _, x := range [...]struct {
		bit uint64
		as  []Address
	}{{eFrom, v.From}, {eSender, v.Sender}, {eReplyTo, v.ReplyTo}, {eTo, v.To}, {eCc, v.Cc}, {eBcc, v.Bcc}} {
		if f&x.bit != 0 {
			e.addrs(x.as)
		}
	}
	if f&eInReplyTo != 0 {
		e.str(v.InReplyTo)
	}
	if f&eMessageID != 0 {
		e.str(v.MessageID)
	}
	if f&eReferences != 0 {
		e.strs(v.References)
	}
}
