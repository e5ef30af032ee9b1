package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"time"
)

// pop3Conn is a minimal POP3 client (RFC 1939) for load: one command at a
// time; multi-line answers are read to their terminating "." line and
// un-stuffed only as far as counting their bytes needs.
type pop3Conn struct {
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

// errERR is a -ERR answer: the server refused the command and the
// connection stays usable.
type errERR struct{ line string }

func (e *errERR) Error() string { return e.line }

func dialPOP3(addr string, timeout time.Duration) (*pop3Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &pop3Conn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), timeout: timeout}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := c.status(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	return c, nil
}

func (c *pop3Conn) close() { _ = c.conn.Close() }

// status reads one status line: +OK, or -ERR as an *errERR.
func (c *pop3Conn) status() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	switch {
	case len(line) >= 3 && line[:3] == "+OK":
		return line, nil
	case len(line) >= 4 && line[:4] == "-ERR":
		return "", &errERR{line: string(bytes.TrimRight([]byte(line), "\r\n"))}
	}
	return "", fmt.Errorf("not a POP3 status line: %.80q", line)
}

// single sends a command with a one-line answer.
func (c *pop3Conn) single(line string) (string, error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.conn.Write([]byte(line + "\r\n")); err != nil {
		return "", err
	}
	return c.status()
}

// multi sends a command with a multi-line answer and returns the size of
// its body after un-stuffing, with CRLF line ends.
func (c *pop3Conn) multi(line string) (int, error) {
	if _, err := c.single(line); err != nil {
		return 0, err
	}
	n := 0
	for {
		l, err := c.r.ReadSlice('\n')
		for errors.Is(err, bufio.ErrBufferFull) {
			n += len(l)
			l, err = c.r.ReadSlice('\n')
		}
		if err != nil {
			return n, err
		}
		if len(l) >= 1 && l[0] == '.' {
			if string(l) == ".\r\n" {
				return n, nil
			}
			l = l[1:]
		}
		n += len(l)
	}
}
