package message

import "strings"

// Limits bound the work the scanner does on hostile input. A zero field
// means its default.
type Limits struct {
	// MaxDepth bounds the nesting of multipart and message/rfc822 parts. A
	// multipart or message part at this depth (the top-level part has depth
	// 0) is kept as a leaf with no Parts. Default 20.
	MaxDepth int
	// MaxParts bounds the number of parts in the tree. Once reached, further
	// body parts and encapsulated messages are not represented: their bytes
	// stay in the body of the enclosing part as opaque content, and the
	// offsets of every recorded part stay exact. Default 1000.
	MaxParts int
	// MaxHeaderBytes bounds how much of each header block is interpreted. The
	// rest of the block is skipped, but still scanned for its end, so offsets
	// stay exact. Default 256 KiB.
	MaxHeaderBytes int
}

// DefaultLimits returns the limits Scan uses for zero fields.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 20, MaxParts: 1000, MaxHeaderBytes: 256 << 10}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// Part is one MIME entity of a message: the message itself, a body part of
// a multipart, or the message encapsulated in a message/rfc822 part.
//
// The top-level Part is the message. A multipart's Parts are its body parts
// (none if no boundary was found or a limit stopped the scan; RFC 9051 has
// no syntax for that, so the IMAP layer writes one empty text/plain part, as
// Dovecot does). A message/rfc822 or message/global part has exactly one
// child, the root Part of the encapsulated message, unless a limit stopped
// the scan.
type Part struct {
	// Byte offsets in the raw message: the header block is
	// [HeaderStart, BodyStart) and the body [BodyStart, End). A multipart's
	// body runs from its preamble to its epilogue (BODY[n.TEXT], BODY[n] of a
	// multipart); each child records its own offsets inside it.
	HeaderStart, BodyStart, End int64
	// Lines is the number of lines in the body: its line breaks, plus one
	// if its last line has no line break (RFC 9051 7.5.2 body-fld-lines).
	Lines int64

	// Type and Subtype are lower-cased. Without a valid Content-Type they
	// are text/plain with charset us-ascii, or message/rfc822 in a
	// multipart/digest (RFC 2045 5.2, RFC 2046 5.1.5).
	Type, Subtype string
	// Params are the Content-Type parameters with lower-cased names, each
	// name once, RFC 2231 continuations joined and decoded into Value.
	Params []Param
	// Raw, trimmed values of Content-ID, Content-Description and
	// Content-MD5; Encoding is the upper-cased Content-Transfer-Encoding
	// token, "7BIT" when absent (RFC 2045 6.1).
	ID, Description, Encoding, MD5 string
	// Disposition is the lower-cased Content-Disposition type (RFC 2183), ""
	// when absent; DispositionParams are parsed as Params are.
	Disposition       string
	DispositionParams []Param
	// Language holds the Content-Language tags (RFC 3282), Location the
	// Content-Location value (RFC 2557).
	Language []string
	Location string

	// HeaderNUL reports a NUL byte in the header block; BodyNUL one in
	// the body outside any child (a leaf's whole body; a multipart's
	// preamble, delimiter lines or epilogue). RFC 9051 4.3 forbids NUL in
	// an ordinary literal, so the IMAP layer serves such bytes through a
	// transfer encoding (RFC 3516 4.3). Structures stored before these
	// fields existed read as false.
	HeaderNUL, BodyNUL bool

	// Envelope is set on every message root: the top-level Part and the
	// child of each message/rfc822 or message/global part. (Keeping it on
	// the root, not on the message/rfc822 part, is what lets a top-level
	// message whose own type is message/rfc822 have both envelopes.)
	Envelope *Envelope
	// Parts are the children, see the type's comment.
	Parts []*Part
}

// Param is a MIME parameter (RFC 2045 5.1).
type Param struct{ Name, Value string }

// Envelope holds the ENVELOPE fields of a message (RFC 9051 7.5.2). Strings
// are raw header values, unfolded (RFC 5322 2.2.3) and trimmed, with encoded
// words left encoded; of repeated fields the first counts.
type Envelope struct {
	Date, Subject                      string
	From, Sender, ReplyTo, To, Cc, Bcc []Address // Sender and ReplyTo default to From
	InReplyTo, MessageID               string
	// References lists the message IDs of the References field (RFC 5322
	// 3.6.4), angle brackets included, for threading.
	References []string
}

// Address is an IMAP address structure (RFC 9051 7.5.2, RFC 3501 7.4.2):
// quoting is removed from Name and Mailbox, encoded words are kept.
//
// Host is empty only in group markers: a group starts with an Address whose
// Mailbox is the group name and ends with an all-empty Address. An address
// with no domain has Host ".MISSING-HOST-NAME.", as UW-IMAP and Dovecot do.
type Address struct{ Name, ADL, Mailbox, Host string }

// MissingHost is the Host of an address that has no domain.
const MissingHost = ".MISSING-HOST-NAME."

// HasNUL reports whether any part of the tree holds a NUL byte.
func (p *Part) HasNUL() bool {
	if p.HeaderNUL || p.BodyNUL {
		return true
	}
	for _, c := range p.Parts {
		if c.HasNUL() {
			return true
		}
	}
	return false
}

// IsMultipart reports whether p is a multipart (RFC 2046 5.1).
func (p *Part) IsMultipart() bool { return p.Type == "multipart" }

// IsMessage reports whether p encapsulates a message whose root is
// Parts[0]: message/rfc822 or message/global (RFC 2046 5.2.1, RFC 6532).
func (p *Part) IsMessage() bool {
	return p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global") && len(p.Parts) == 1
}

// Param returns the value of the Content-Type parameter name (compared
// case-insensitively), or "".
func (p *Part) Param(name string) string { return lookup(p.Params, name) }

func lookup(ps []Param, name string) string {
	for _, x := range ps {
		if strings.EqualFold(x.Name, name) {
			return x.Value
		}
	}
	return ""
}

// Find returns the part that an IMAP part number addresses (RFC 9051
// 6.4.5), p itself for an empty path, or nil if there is none. p must be a
// message root. Part 1 of a message whose body is not multipart is that
// body, and the numbers after a message/rfc822 part address the parts of
// the encapsulated message: 2.1 is its body, or its first part if it is a
// multipart.
func (p *Part) Find(path []int) *Part {
	cur, root := p, true
	for i, n := range path {
		if n < 1 {
			return nil
		}
		if i > 0 && cur.IsMessage() {
			cur, root = cur.Parts[0], true
		}
		switch {
		case cur.IsMultipart():
			if n > len(cur.Parts) {
				return nil
			}
			cur, root = cur.Parts[n-1], false
		case root && n == 1:
			root = false
		default:
			return nil
		}
	}
	return cur
}
