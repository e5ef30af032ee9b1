package lmtpserver

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"time"
)

var errLineTooLong = errors.New("lmtpserver: line too long")

// ioConn is a session's connection. Every Read first flushes the replies
// still buffered (so a pipelining client is never left waiting, RFC 2920
// 3.1) and renews the read deadline; every Write renews the write deadline.
type ioConn struct {
	net.Conn
	timeout time.Duration
	flush   func() error
}

func (c *ioConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(p)
}

func (c *ioConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.Conn.Write(p)
}

// readLine reads a command line of at most max bytes, terminator included,
// and returns it without its CRLF (or bare LF). A longer line is read to
// its end, discarded, and reported as errLineTooLong.
func readLine(br *bufio.Reader, max int) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			return "", errLineTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return string(line), nil
}

// dotReader reads a DATA body (RFC 5321 4.5.2): it removes the leading dot
// of every line that has one and ends at the line ".", CRLF-terminated. It
// changes nothing else: bare CRs and LFs are message bytes, not line ends.
type dotReader struct {
	br   *bufio.Reader
	pend []byte // the rest of the current chunk, not yet returned
	bol  bool   // the next byte starts a line
	cr   bool   // the last byte read was CR
	eof  bool   // the end-of-data line was read
	err  error  // the connection failed (io.ErrUnexpectedEOF: it closed)
}

func newDotReader(br *bufio.Reader) *dotReader { return &dotReader{br: br, bol: true} }

func (d *dotReader) Read(p []byte) (int, error) {
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

// lineBuffered reports whether a whole line is in the connection's
// buffer, so that next returns without reading the network.
func (d *dotReader) lineBuffered() bool {
	if d.eof || d.err != nil {
		return false
	}
	b, _ := d.br.Peek(d.br.Buffered())
	return bytes.IndexByte(b, '\n') >= 0
}

// next reads the next chunk of the body into pend: a line, or the part
// of one that fits bufio's buffer, without its stuffed dot. It returns
// io.EOF at the end-of-data line, and the connection's error.
func (d *dotReader) next() error {
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
		chunk = chunk[1:]
	}
	// A line ends at CRLF, which may straddle two chunks.
	n := len(chunk)
	d.bol = err == nil && (n >= 2 && chunk[n-2] == '\r' || n == 1 && d.cr)
	d.cr = n > 0 && chunk[n-1] == '\r'
	d.pend = chunk
	return nil
}
