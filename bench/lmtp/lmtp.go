package main

import (
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"
)

// lmtpClient is a minimal LMTP client (RFC 2033): LHLO once, then
// transactions of MAIL FROM, RCPT TO per recipient, DATA and one reply per
// accepted recipient.
type lmtpClient struct {
	conn    net.Conn
	tp      *textproto.Conn
	timeout time.Duration
}

// dialLMTP connects, reads the greeting and sends LHLO.
func dialLMTP(addr string, timeout time.Duration) (*lmtpClient, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &lmtpClient{conn: conn, tp: textproto.NewConn(conn), timeout: timeout}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, _, err := c.tp.ReadResponse(220); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting: %w", err)
	}
	if _, err := c.cmd(250, "LHLO bench.test"); err != nil {
		c.Close()
		return nil, fmt.Errorf("LHLO: %w", err)
	}
	return c, nil
}

func (c *lmtpClient) Close() error {
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	_ = c.tp.PrintfLine("QUIT")
	return c.tp.Close()
}

func (c *lmtpClient) cmd(expect int, format string, args ...any) (string, error) {
	if err := c.tp.PrintfLine(format, args...); err != nil {
		return "", err
	}
	_, msg, err := c.tp.ReadResponse(expect)
	return msg, err
}

// deliver runs one transaction and returns how many recipients got a 250
// after DATA. An error that is a *textproto.Error is a rejection and leaves
// the connection usable; any other error means the connection is broken.
func (c *lmtpClient) deliver(from string, rcpts []string, data []byte) (int, error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.cmd(250, "MAIL FROM:<%s>", from); err != nil {
		return 0, c.reset("MAIL FROM", err)
	}
	accepted := 0
	var firstErr error
	for _, r := range rcpts {
		if _, err := c.cmd(250, "RCPT TO:<%s>", r); err != nil {
			if !isReply(err) {
				return 0, err
			}
			firstErr = cmpErr(firstErr, fmt.Errorf("RCPT TO %s: %w", r, err))
			continue
		}
		accepted++
	}
	if accepted == 0 {
		return 0, c.reset("", firstErr)
	}
	if _, err := c.cmd(354, "DATA"); err != nil {
		return 0, c.reset("DATA", err)
	}
	if _, err := c.tp.W.Write(data); err != nil {
		return 0, err
	}
	if err := c.tp.W.Flush(); err != nil {
		return 0, err
	}
	ok := 0
	for i := 0; i < accepted; i++ {
		if _, _, err := c.tp.ReadResponse(250); err != nil {
			if !isReply(err) {
				return ok, err
			}
			firstErr = cmpErr(firstErr, fmt.Errorf("after DATA: %w", err))
			continue
		}
		ok++
	}
	return ok, firstErr
}

// reset sends RSET after a rejected command, so the next transaction starts
// clean, and returns the rejection (or the broken connection's error).
func (c *lmtpClient) reset(what string, err error) error {
	if !isReply(err) {
		return err
	}
	if what != "" {
		err = fmt.Errorf("%s: %w", what, err)
	}
	if _, rerr := c.cmd(250, "RSET"); rerr != nil && !isReply(rerr) {
		return rerr
	}
	return err
}

func isReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
