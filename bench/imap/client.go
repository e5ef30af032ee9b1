package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// imapConn is a minimal IMAP client for load: one command at a time,
// responses read line by line with server literals inlined, so that the
// caller can scan them. It understands just enough of RFC 9051 for the
// benchmark's mix; it is not a general client.
type imapConn struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	tag     int
	timeout time.Duration
}

// errNo is a tagged NO or BAD: the server refused the command and the
// connection stays usable.
type errNo struct{ line string }

func (e *errNo) Error() string { return e.line }

// dialIMAP connects and reads the greeting.
func dialIMAP(addr string, timeout time.Duration) (*imapConn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &imapConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriter(conn), timeout: timeout}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	line, err := c.readResponse()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("* OK")) {
		conn.Close()
		return nil, fmt.Errorf("greeting: %q", line)
	}
	return c, nil
}

func (c *imapConn) close() { _ = c.conn.Close() }

// command sends one command line (and, when lit is not nil, a LITERAL+
// literal after it, RFC 7888) and returns its untagged responses. A tagged
// NO or BAD is an *errNo; any other error means the connection is broken.
func (c *imapConn) command(line string, lit []byte) ([][]byte, error) {
	c.tag++
	tag := "b" + strconv.Itoa(c.tag)
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	c.w.WriteString(tag)
	c.w.WriteByte(' ')
	c.w.WriteString(line)
	if lit != nil {
		fmt.Fprintf(c.w, " {%d+}\r\n", len(lit))
		c.w.Write(lit)
	}
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	var untagged [][]byte
	for {
		resp, err := c.readResponse()
		if err != nil {
			return untagged, err
		}
		switch {
		case bytes.HasPrefix(resp, []byte("* ")):
			untagged = append(untagged, resp)
		case bytes.HasPrefix(resp, []byte(tag+" ")):
			st := resp[len(tag)+1:]
			if bytes.HasPrefix(st, []byte("OK")) {
				return untagged, nil
			}
			return untagged, &errNo{line: string(resp)}
		case bytes.HasPrefix(resp, []byte("+")):
			return untagged, errors.New("unexpected continuation request: the server did not take LITERAL+")
		default:
			return untagged, fmt.Errorf("unexpected response %.80q", resp)
		}
	}
}

// readResponse reads one response line, with the contents of any literals
// ({N} or ~{N} at a line end) inlined, without its final CRLF.
func (c *imapConn) readResponse() ([]byte, error) {
	var out []byte
	for {
		line, err := c.r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			out = append(out, line...)
			line, err = c.r.ReadSlice('\n')
		}
		if err != nil {
			return nil, err
		}
		out = append(out, line...)
		n, ok := literalAtEnd(out)
		if !ok {
			return bytes.TrimRight(out, "\r\n"), nil
		}
		start := len(out)
		out = append(out, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, out[start:]); err != nil {
			return nil, err
		}
	}
}

// literalAtEnd reports whether line ends with "{N}\r\n" and returns N.
func literalAtEnd(line []byte) (int, bool) {
	l := bytes.TrimRight(line, "\r\n")
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false
	}
	open := bytes.LastIndexByte(l, '{')
	if open < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(string(l[open+1 : len(l)-1]))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
