package benchkit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// IMAPConn is a minimal IMAP client for load: one command at a time,
// responses read line by line with server literals inlined, so that the
// caller can scan them. It understands just enough of RFC 9051 for the
// benchmark's mix; it is not a general client.
type IMAPConn struct {
	conn    net.Conn
	r       *bufio.Reader
	w       *bufio.Writer
	tag     int
	timeout time.Duration
	// Trace, if set, sees every command ("C") and response ("S") line of
	// Do and Command, for a history of the session.
	Trace func(dir, line string)
}

// ErrNo is a tagged NO or BAD: the server refused the command and the
// connection stays usable.
type ErrNo struct{ line string }

func (e *ErrNo) Error() string { return e.line }

// DialIMAP connects and reads the greeting. bufSize sizes the read and
// write buffers: large for load, small for thousands of idle connections.
func DialIMAP(addr string, timeout time.Duration, bufSize int) (*IMAPConn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &IMAPConn{conn: conn, r: bufio.NewReaderSize(conn, bufSize), w: bufio.NewWriterSize(conn, bufSize), timeout: timeout}
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

// Close closes the connection without LOGOUT.
func (c *IMAPConn) Close() { _ = c.conn.Close() }

// Command sends one command line (and, when lit is not nil, a LITERAL+
// literal after it, RFC 7888) and returns its untagged responses. A tagged
// NO or BAD is an *ErrNo; any other error means the connection is broken.
func (c *IMAPConn) Command(line string, lit []byte) ([][]byte, error) {
	untagged, _, err := c.Do(line, lit)
	return untagged, err
}

// Do is Command that also returns the tagged status line's text after the
// tag (for response codes such as APPENDUID).
func (c *IMAPConn) Do(line string, lit []byte) ([][]byte, string, error) {
	tag, err := c.send(line, lit)
	if err != nil {
		return nil, "", err
	}
	if c.Trace != nil {
		c.Trace("C", tag+" "+line)
	}
	var untagged [][]byte
	for {
		resp, err := c.readResponse()
		if err != nil {
			return untagged, "", err
		}
		if c.Trace != nil {
			c.Trace("S", string(resp))
		}
		switch {
		case bytes.HasPrefix(resp, []byte("* ")):
			untagged = append(untagged, resp)
		case bytes.HasPrefix(resp, []byte(tag+" ")):
			st := string(resp[len(tag)+1:])
			if strings.HasPrefix(st, "OK") {
				return untagged, st, nil
			}
			return untagged, st, &ErrNo{line: string(resp)}
		case bytes.HasPrefix(resp, []byte("+")):
			return untagged, "", errors.New("unexpected continuation request: the server did not take LITERAL+")
		default:
			return untagged, "", fmt.Errorf("unexpected response %.80q", resp)
		}
	}
}

// Idle sends IDLE (RFC 2177) and returns once the server's continuation
// request arrives. Then ReadUntil waits for what the server announces.
func (c *IMAPConn) Idle() error {
	if _, err := c.send("IDLE", nil); err != nil {
		return err
	}
	for {
		resp, err := c.readResponse()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(resp, []byte("+")) {
			return nil
		}
		if !bytes.HasPrefix(resp, []byte("* ")) {
			return fmt.Errorf("IDLE: %.80q", resp)
		}
	}
}

// EndIdle sends DONE to end the IDLE that Idle began and returns the
// responses that came before its tagged status, as Do does; a tagged NO
// or BAD is an *ErrNo.
func (c *IMAPConn) EndIdle() ([][]byte, error) {
	tag := "b" + strconv.Itoa(c.tag)
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	c.w.WriteString("DONE\r\n")
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
		case bytes.HasPrefix(resp, []byte(tag+" OK")):
			return untagged, nil
		case bytes.HasPrefix(resp, []byte(tag+" ")):
			return untagged, &ErrNo{line: string(resp)}
		default:
			return untagged, fmt.Errorf("after DONE: unexpected response %.80q", resp)
		}
	}
}

// ReadUntil reads responses until one contains substr, or the deadline.
func (c *IMAPConn) ReadUntil(substr string, deadline time.Time) error {
	_ = c.conn.SetReadDeadline(deadline)
	for {
		resp, err := c.readResponse()
		if err != nil {
			return err
		}
		if bytes.Contains(resp, []byte(substr)) {
			return nil
		}
	}
}

// send writes one tagged command and returns its tag.
func (c *IMAPConn) send(line string, lit []byte) (string, error) {
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
	return tag, c.w.Flush()
}

// readResponse reads one response line, with the contents of any literals
// ({N} or ~{N} at a line end) inlined, without its final CRLF.
func (c *IMAPConn) readResponse() ([]byte, error) {
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
