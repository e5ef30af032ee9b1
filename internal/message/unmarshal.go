package message

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Unmarshal decodes what MarshalBinary encoded. It returns an error wrapping
// ErrCorrupt, and never panics, for any other input.
func Unmarshal(b []byte) (*Part, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	d := decoder{b: b[1:]}
	d.s = string(d.b)
	p := d.part(0, 0)
	if d.err == nil && len(d.b) > 0 {
		d.fail("trailing bytes")
	}
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// UnmarshalEnvelope decodes only the root's envelope from what
// MarshalBinary encoded, nil when the root has none: FETCH ENVELOPE of a
// whole mailbox needs nothing else, and the parts below the root cost
// more to decode than the envelope. The parts are not read, so damage in
// them goes unnoticed here (Unmarshal reports it). It returns an error
// wrapping ErrCorrupt, and never panics, for any other input.
func UnmarshalEnvelope(b []byte) (*Envelope, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrCorrupt)
	}
	if b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrCorrupt, b[0])
	}
	d := decoder{b: b[1:], rootOnly: true}
	d.s = string(d.b)
	p := d.part(0, 0)
	if d.err != nil {
		return nil, d.err
	}
	return p.Envelope, nil
}

// UnmarshalBinary sets p to the tree that b encodes, as Unmarshal does.
func (p *Part) UnmarshalBinary(b []byte) error {
	q, err := Unmarshal(b)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// decoder reads b. s is b as one string, made once: every string of the
// tree is a slice of it, not an allocation of its own (FETCH ENVELOPE
// decodes a dozen a message).
type decoder struct {
	b        []byte
	s        string
	err      error
	rootOnly bool // stop before the root's parts (UnmarshalEnvelope)
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// flags reads a bit set, rejecting bits outside all.
func (d *decoder) flags(all uint64) uint64 {
	f := d.uvarint()
	if f&^all != 0 {
		d.fail("unknown flags")
		return 0
	}
	return f
}

// count reads the number of items of a present list: at least one, and no
// more than the bytes left, as each item takes at least one.
func (d *decoder) count() int {
	n := d.uvarint()
	if d.err == nil && (n == 0 || n > uint64(len(d.b))) {
		d.fail("bad count")
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string too long")
		return ""
	}
	off := len(d.s) - len(d.b)
	d.b = d.b[n:]
	return d.s[off : off+int(n)]
}

func (d *decoder) params() []Param {
	n := d.count()
	ps := make([]Param, 0, n)
	for range n {
		ps = append(ps, Param{Name: d.str(), Value: d.str()})
	}
	return ps
}

func (d *decoder) strs() []string {
	n := d.count()
	ss := make([]string, 0, n)
	for range n {
		ss = append(ss, d.str())
	}
	return ss
}

func (d *decoder) addrs() []Address {
	n := d.count()
	as := make([]Address, 0, n)
	for range n {
		if len(d.b) == 0 {
			d.fail("short address")
			return nil
		}
		m := d.b[0]
		d.b = d.b[1:]
		if m&^aAll != 0 || m&aHost != 0 && m&aMissingHost != 0 {
			d.fail("bad address mask")
			return nil
		}
		var f [4]string
		for i := range f {
			if m&(1<<i) != 0 {
				f[i] = d.str()
			}
		}
		if m&aMissingHost != 0 {
			f[3] = MissingHost
		}
		as = append(as, Address{Name: f[0], ADL: f[1], Mailbox: f[2], Host: f[3]})
	}
	return as
}

func (d *decoder) part(base int64, depth int) *Part {
	if depth >= maxNesting {
		d.fail("nested too deep")
		return nil
	}
	p := &Part{Encoding: "7BIT"}
	f := d.flags(pAll)
	if c := d.uvarint(); c == 0 {
		p.Type, p.Subtype = d.str(), d.str()
	} else if p.Type, p.Subtype = commonType(c); p.Type == "" {
		d.fail("unknown type code")
	}
	p.HeaderStart = base + d.varint()
	p.BodyStart = p.HeaderStart + d.varint()
	p.End = p.BodyStart + d.varint()
	p.Lines = d.varint()
	p.HeaderNUL, p.BodyNUL = f&pHeaderNUL != 0, f&pBodyNUL != 0
	if f&pParams != 0 {
		p.Params = d.params()
	}
	for i, s := range [...]*string{&p.Encoding, &p.ID, &p.Description, &p.MD5, &p.Disposition} {
		if f&(pEncoding<<i) != 0 {
			*s = d.str()
		}
	}
	if f&pDispositionParams != 0 {
		p.DispositionParams = d.params()
	}
	if f&pLanguage != 0 {
		p.Language = d.strs()
	}
	if f&pLocation != 0 {
		p.Location = d.str()
	}
	if f&pEnvelope != 0 {
		p.Envelope = d.envelope()
	}
	if f&pParts != 0 && !d.rootOnly {
		n := d.count()
		p.Parts = make([]*Part, 0, n)
		for range n {
			if d.err != nil {
				break
			}
			p.Parts = append(p.Parts, d.part(p.BodyStart, depth+1))
		}
	}
	return p
}

func (d *decoder) envelope() *Envelope {
	v := &Envelope{}
	f := d.flags(eAll)
	if f&eSender != 0 && f&eSenderIsFrom != 0 || f&eReplyTo != 0 && f&eReplyToIsFrom != 0 ||
		f&(eSenderIsFrom|eReplyToIsFrom) != 0 && f&eFrom == 0 {
		d.fail("bad envelope flags")
		return nil
	}
	if f&eDate != 0 {
		v.Date = d.str()
	}
	if f&eSubject != 0 {
		v.Subject = d.str()
	}
	for _, x := range [...]struct {
		bit uint64
		as  *[]Address
	}{{eFrom, &v.From}, {eSender, &v.Sender}, {eReplyTo, &v.ReplyTo}, {eTo, &v.To}, {eCc, &v.Cc}, {eBcc, &v.Bcc}} {
		if f&x.bit != 0 {
			*x.as = d.addrs()
		}
	}
	if f&eSenderIsFrom != 0 {
		v.Sender = slices.Clone(v.From)
	}
	if f&eReplyToIsFrom != 0 {
		v.ReplyTo = slices.Clone(v.From)
	}
	if f&eInReplyTo != 0 {
		v.InReplyTo = d.str()
	}
	if f&eMessageID != 0 {
		v.MessageID = d.str()
	}
	if f&eReferences != 0 {
		v.References = d.strs()
	}
	return v
}
