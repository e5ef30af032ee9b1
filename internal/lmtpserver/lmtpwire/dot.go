package lmtpwire

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DotReader reads a DATA body (RFC 5321 4.5.2): it removes the leading dot
// of every line that has one and ends at the line ".", CRLF-terminated. It
// changes nothing else: bare CRs and LFs are message bytes, not line ends.
type DotReader struct {
	br   *bufio.Reader
	pend []byte // the rest of the current chunk, not yet returned
	bol  bool   // the next byte starts a line
	cr   bool   // the last byte read was CR
	eof  bool   // the end-of-data line was read
	err  error  // the connection failed (io.ErrUnexpectedEOF: it closed)
	raw  bool   // keep stuffed dots
}

// NewDotReader returns a reader of the body that starts at br's next
// byte.
func NewDotReader(br *bufio.Reader) *DotReader { return &DotReader{br: br, bol: true} }

// NewRawDotReader is NewDotReader keeping the stuffed dots: it gives the
// body as it came over the wire, without the end-of-data line, so a proxy
// passes it on byte for byte and adds ".\r\n".
func NewRawDotReader(br *bufio.Reader) *DotReader { return &DotReader{br: br, bol: true, raw: true} }

func (d *DotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pend) == 0 {
			// Once some bytes are in p, go on only with whole lines
			// already buffered: a Read never waits with data in hand.
			// One line a Read cost the spool a call a line.
			if n > 0 && !d.lineBuffered() {
				break
			}
			if err := d.next(); err != nil {
				if n > 0 {
					return n, nil // the error comes with the next Read
				}
				return 0, err
			}
			continue
		}
		c := copy(p[n:], d.pend)
		d.pend = d.pend[c:]
		n += c
	}
	return n, nil
}

// Err is the connection's failure while reading the body
// (io.ErrUnexpectedEOF: it closed), nil once the end-of-data line was
// read: a caller that read to io.EOF, or stopped early and drained the
// rest, tells a body from a broken session by it.
func (d *DotReader) Err() error { return d.err }

// lineBuffered reports whether a whole line is in the connection's
// buffer, so that next returns without reading the network.
func (d *DotReader) lineBuffered() bool {
	if d.eof || d.err != nil {
		return false
	}
	b, _ := d.br.Peek(d.br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// next reads the next chunk of the body into pend: a line, or the part
// of one that fits bufio's buffer, without its stuffed dot. It returns
// io.EOF at the end-of-data line, and the connection's error.
func (d *DotReader) next() error {
	switch {
	case d.eof:
		return io.EOF
	case d.err != nil:
		return d.err
	}
	chunk, err := d.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		d.err = err
		return err
	}
	if d.bol && len(chunk) > 0 && chunk[0] == '.' {
		if string(chunk) == ".\r\n" {
			d.eof = true
			return io.EOF
		}
		if !d.raw {
			chunk = chunk[1:]
		}
	}
	// A line ends at CRLF, which may straddle two chunks.
	n := len(chunk)
	d.bol = err == nil && (n >= 2 && chunk[n-2] == '\r' || n == 1 && d.cr)
	d.cr = n > 0 && chunk[n-1] == '\r'
	d.pend = chunk
	return nil
}
