package message

import (
	"bytes"
	"strings"
)

// The header fields the scanner keeps. Content fields are kept for every
// part, envelope fields only for message roots.
const (
	fContentType = iota
	fContentTransferEncoding
	fContentID
	fContentDescription
	fContentMD5
	fContentDisposition
	fContentLanguage
	fContentLocation
	fDate
	fSubject
	fFrom
	fSender
	fReplyTo
	fTo
	fCc
	fBcc
	fInReplyTo
	fMessageID
	fReferences
	nFields
)

// fields holds the first occurrence of each kept field of a header block,
// unfolded (RFC 5322 2.2.3) and trimmed.
type fields struct {
	set [nFields]bool
	val [nFields]string
}

func (h *fields) get(f int) string { return h.val[f] }

// fieldIndex returns the index of the kept field called name, or -1.
func fieldIndex(name []byte, root bool) int {
	var buf [32]byte
	if len(name) > len(buf) {
		return -1
	}
	for i, c := range name {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	f := -1
	switch string(buf[:len(name)]) {
	case "content-type":
		return fContentType
	case "content-transfer-encoding":
		return fContentTransferEncoding
	case "content-id":
		return fContentID
	case "content-description":
		return fContentDescription
	case "content-md5":
		return fContentMD5
	case "content-disposition":
		return fContentDisposition
	case "content-language":
		return fContentLanguage
	case "content-location":
		return fContentLocation
	case "date":
		f = fDate
	case "subject":
		f = fSubject
	case "from":
		f = fFrom
	case "sender":
		f = fSender
	case "reply-to":
		f = fReplyTo
	case "to":
		f = fTo
	case "cc":
		f = fCc
	case "bcc":
		f = fBcc
	case "in-reply-to":
		f = fInReplyTo
	case "message-id":
		f = fMessageID
	case "references":
		f = fReferences
	}
	if !root {
		return -1
	}
	return f
}

// splitField splits a header line into field name and value (RFC 5322
// 2.2). It tolerates white space before the colon (RFC 5322 4.5).
func splitField(line []byte) (name, value []byte, ok bool) {
	i := 0
	for i < len(line) && line[i] != ':' {
		i++
	}
	if i == len(line) {
		return nil, nil, false
	}
	name, value = line[:i], line[i+1:]
	for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
		name = name[:len(name)-1]
	}
	if len(name) == 0 {
		return nil, nil, false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

// dropEOL returns line without its line break.
func dropEOL(line []byte) []byte {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		n--
		if n > 0 && line[n-1] == '\r' {
			n--
		}
	}
	return line[:n]
}

// header consumes the header block at s.off up to and including the blank
// line that ends it (RFC 5322 2.1), and keeps the fields of interest in h.
// The block also ends, with no blank line, before a delimiter line of an
// open multipart and at the end of input. A first line that is not a header
// field means there is no header: the body starts there. Later lines that
// are not fields stay in the header, ignored. Only the first
// MaxHeaderBytes of the block are interpreted.
func (s *scanner) header(h *fields, root bool) {
	start, budget := s.off, int64(s.lim.MaxHeaderBytes)
	s.hbuf = s.hbuf[:0]
	var span [nFields][2]int
	cur := -1 // the field being collected
	add := func(b []byte) {
		if room := budget - (s.off - start); int64(len(b)) > room {
			b = b[:max(room, 0)]
		}
		s.hbuf = append(s.hbuf, b...)
		span[cur][1] = len(s.hbuf)
	}
	first := true
loop:
	for {
		line, ok := s.peek()
		if !ok {
			break
		}
		if !s.bol { // the rest of a long line
			if cur >= 0 {
				add(dropEOL(line))
			}
			s.consume()
			continue
		}
		if i, _ := s.boundary(line); i >= 0 {
			break
		}
		content := dropEOL(line)
		if len(content) == 0 {
			s.consume()
			break
		}
		within := s.off-start < budget
		switch {
		case content[0] == ' ' || content[0] == '\t':
			if first {
				break loop
			}
			if cur >= 0 && within {
				add(content)
			}
		default:
			cur = -1
			name, value, ok := splitField(content)
			if !ok {
				if first && !bytes.HasPrefix(content, []byte("From ")) {
					break loop // no header at all (an mbox From_ line is skipped)
				}
				break
			}
			if f := fieldIndex(name, root); f >= 0 && !h.set[f] && within {
				h.set[f], cur = true, f
				span[f][0] = len(s.hbuf)
				add(value)
			}
		}
		first = false
		s.consume()
	}
	for f := range span {
		if h.set[f] {
			h.val[f] = strings.Trim(string(s.hbuf[span[f][0]:span[f][1]]), " \t\r\n")
		}
	}
}
