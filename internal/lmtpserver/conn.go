package lmtpserver

import (
	"net"
	"time"
)

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
