package message

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
)

// bufSize is the scanner's read buffer. A line longer than this is seen in
// fragments; such a line is never a boundary delimiter.
const bufSize = 32 << 10

// Scan reads a whole raw message from r in one pass and returns its
// structure. Memory stays bounded whatever the message's size: the body is
// never held. Scan never rejects a message; the only errors are r's own,
// other than io.EOF. Zero fields of lim take their defaults.
func Scan(r io.Reader, lim Limits) (*Part, error) {
	return scanLines(bufio.NewReaderSize(r, bufSize), lim)
}

// ScanBytes is Scan of a message in memory: its lines are read in place,
// with no read buffer (Scan's costs a message 32 KiB and a copy), and the
// result is Scan's for the same bytes.
func ScanBytes(b []byte, lim Limits) *Part {
	p, _ := scanLines(&byteLines{b: b}, lim) // no reader, no error
	return p
}

func scanLines(r lineReader, lim Limits) (*Part, error) {
	s := &scanner{r: r, lim: lim.withDefaults(), bol: true}
	p, _ := s.part(0, false, true)
	if s.err != nil {
		return nil, fmt.Errorf("message: scan: %w", s.err)
	}
	return p, nil
}

// lineReader is what the scanner reads: bufio.Reader's ReadSlice.
type lineReader interface {
	ReadSlice(delim byte) ([]byte, error)
}

// byteLines is a lineReader over a byte slice that cuts lines as a
// bufio.Reader of bufSize does: bufSize bytes without a line feed come
// with bufio.ErrBufferFull, fewer at the end with io.EOF.
type byteLines struct {
	b   []byte
	off int
}

func (l *byteLines) ReadSlice(delim byte) ([]byte, error) {
	rest := l.b[l.off:]
	if len(rest) == 0 {
		return nil, io.EOF
	}
	window := rest[:min(len(rest), bufSize)]
	if i := bytes.IndexByte(window, delim); i >= 0 {
		l.off += i + 1
		return window[: i+1 : i+1], nil
	}
	l.off += len(window)
	if len(window) == bufSize {
		return window[:len(window):len(window)], bufio.ErrBufferFull
	}
	return window[:len(window):len(window)], io.EOF
}

// scanner reads the input a line at a time, keeping the offsets and line
// counts that part boundaries need. A line is first peeked, then consumed;
// a part that ends at a boundary leaves the delimiter line peeked for the
// multipart that owns it.
type scanner struct {
	r   lineReader
	lim Limits
	err error // the reader's error, other than io.EOF

	line []byte // the peeked line, or fragment of a long line
	have bool   // line is peeked and not yet consumed
	eof  bool   // the reader has nothing more after line

	off         int64 // offset of the first unconsumed byte
	lfs         int64 // line feeds consumed
	bol         bool  // off is at the beginning of a line
	lineLen     int64 // bytes consumed of the current line, line break included
	lastEOL     int64 // length of the line break that ended the last consumed line (0 if none)
	lastContent int64 // length of the last consumed line without its line break
	lastByte    byte  // the last byte consumed
	nuls        int64 // consumed lines (or fragments) holding a NUL byte

	nparts int
	bounds []string // boundaries of the open multiparts, outermost first
	hbuf   []byte   // header values of the current header block
}

// peek returns the next line (or line fragment) without consuming it, or
// false at the end of input.
func (s *scanner) peek() ([]byte, bool) {
	if s.have {
		return s.line, true
	}
	if s.eof {
		return nil, false
	}
	line, err := s.r.ReadSlice('\n')
	if err != nil && err != bufio.ErrBufferFull {
		s.eof = true
		if err != io.EOF {
			s.err = err
		}
		if len(line) == 0 {
			return nil, false
		}
	}
	s.line, s.have = line, true
	return line, true
}

// consume accepts the peeked line.
func (s *scanner) consume() {
	line := s.line
	s.have = false
	n := len(line)
	if n == 0 {
		return
	}
	if s.bol {
		s.lineLen = 0
	}
	s.off += int64(n)
	s.lineLen += int64(n)
	if line[n-1] == '\n' {
		s.lfs++
		s.lastEOL = 1
		if n >= 2 && line[n-2] == '\r' || n == 1 && s.lineLen > 1 && s.lastByte == '\r' {
			s.lastEOL = 2
		}
		s.lastContent = s.lineLen - s.lastEOL
		s.bol = true
	} else {
		s.lastEOL = 0
		s.lastContent = s.lineLen
		s.bol = false
	}
	s.lastByte = line[n-1]
	if bytes.IndexByte(line, 0) >= 0 {
		s.nuls++
	}
}

// complete reports whether the peeked line is a whole line.
func (s *scanner) complete(line []byte) bool {
	return s.bol && (line[len(line)-1] == '\n' || s.eof)
}

// boundary reports whether the peeked line is a delimiter line of an open
// multipart (RFC 2046 5.1.1): "--" boundary, optionally "--" for the close
// delimiter, then only linear white space. It returns the index of that
// multipart in s.bounds, innermost first, or -1.
func (s *scanner) boundary(line []byte) (int, bool) {
	if len(s.bounds) == 0 || len(line) < 3 || line[0] != '-' || line[1] != '-' || !s.complete(line) {
		return -1, false
	}
	rest := line[2:]
	for i := len(s.bounds) - 1; i >= 0; i-- {
		b := s.bounds[i]
		if len(rest) < len(b) || string(rest[:len(b)]) != b {
			continue
		}
		t := rest[len(b):]
		closing := len(t) >= 2 && t[0] == '-' && t[1] == '-'
		if closing {
			t = t[2:]
		}
		if onlyLWSP(t) {
			return i, closing
		}
	}
	return -1, false
}

func onlyLWSP(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// skipBody consumes body lines up to a delimiter line of an open multipart
// (left peeked) or the end of input.
func (s *scanner) skipBody() {
	for {
		line, ok := s.peek()
		if !ok {
			return
		}
		if i, _ := s.boundary(line); i >= 0 {
			return
		}
		s.consume()
	}
}

// finish sets p's End and Lines once its body has been consumed: at the end
// of input, or before a peeked delimiter line, whose preceding line break
// belongs to the delimiter (RFC 2046 5.1.1). lfsBody is s.lfs at BodyStart.
//
// When that line break is also the end of p's header, or of a child's
// header or delimiter line, the body cannot give it up: then p ends after
// it, as its last child does.
func (s *scanner) finish(p *Part, lfsBody int64) {
	end, lfs, partial := s.off, s.lfs, s.lastByte != '\n'
	if s.have {
		end -= s.lastEOL
		if s.lastEOL > 0 {
			lfs--
		}
		partial = s.lastContent > 0
	}
	low := p.BodyStart
	if n := len(p.Parts); n > 0 {
		low = max(low, p.Parts[n-1].End)
	}
	switch {
	case end <= p.BodyStart && low == p.BodyStart:
		p.End, p.Lines = p.BodyStart, 0
		return
	case end < low:
		// low lies within the line break, after the body's last LF or on it.
		p.End, p.Lines = low, s.lfs-lfsBody
		return
	}
	p.End, p.Lines = end, lfs-lfsBody
	if partial {
		p.Lines++
	}
}

// part scans one entity starting at s.off: its header block, then its body
// up to a delimiter line of an enclosing multipart or the end of input.
// depth is the entity's nesting, digest whether it is a body part of a
// multipart/digest, root whether it is a message root (it gets an
// Envelope). It also returns how many consumed lines of the entity held a
// NUL, which sets HeaderNUL and BodyNUL.
func (s *scanner) part(depth int, digest, root bool) (*Part, int64) {
	s.nparts++
	p := &Part{HeaderStart: s.off}
	var h fields
	nuls := s.nuls
	s.header(&h, root)
	p.HeaderNUL = s.nuls > nuls
	inBody := s.nuls
	var inChildren int64
	p.BodyStart = s.off
	lfsBody := s.lfs
	h.content(p, digest)
	if root {
		p.Envelope = h.envelope()
	}
	switch {
	case depth >= s.lim.MaxDepth:
		s.skipBody()
	case p.IsMultipart():
		if b := boundaryParam(p); b != "" {
			inChildren = s.multipart(p, b, depth)
		} else {
			s.skipBody()
		}
	case p.Type == "message" && (p.Subtype == "rfc822" || p.Subtype == "global"):
		// RFC 2046 5.2.1; message/global (RFC 6532 3.7) is treated alike.
		if s.nparts < s.lim.MaxParts {
			c, n := s.part(depth+1, false, true)
			p.Parts, inChildren = []*Part{c}, n
		} else {
			s.skipBody()
		}
	default:
		s.skipBody()
	}
	s.finish(p, lfsBody)
	p.BodyNUL = s.nuls-inBody > inChildren
	return p, s.nuls - nuls
}

// multipart scans the body of multipart p (RFC 2046 5.1.1): the preamble,
// the body parts between delimiter lines, and, after the close delimiter,
// the epilogue. The preamble and epilogue belong to p's body but to no
// child. Without a close delimiter, p ends where its enclosing part does.
// It returns the NUL lines counted in the children.
func (s *scanner) multipart(p *Part, boundary string, depth int) (inChildren int64) {
	s.bounds = append(s.bounds, boundary)
	own := len(s.bounds) - 1
	defer func() { s.bounds = s.bounds[:own] }()
	digest := p.Subtype == "digest"
	for {
		line, ok := s.peek()
		if !ok {
			return inChildren
		}
		i, closing := s.boundary(line)
		if i >= 0 && i < own {
			return inChildren // an enclosing multipart's delimiter ends this one too
		}
		s.consume()
		if i != own {
			continue
		}
		if closing {
			s.bounds = s.bounds[:own]
			s.skipBody()
			return inChildren
		}
		if s.nparts >= s.lim.MaxParts {
			continue // beyond the limit, parts stay opaque content of p
		}
		c, n := s.part(depth+1, digest, false)
		p.Parts, inChildren = append(p.Parts, c), inChildren+n
	}
}

// boundaryParam returns p's boundary parameter without trailing white
// space, which RFC 2046 5.1.1 does not allow in a boundary.
func boundaryParam(p *Part) string {
	return strings.TrimRight(p.Param("boundary"), " \t\r\n")
}
