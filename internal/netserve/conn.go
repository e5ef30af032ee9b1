package netserve

import (
	"net"
	"sync"
	"time"
)

// Conn is an accepted connection with its part of the drain protocol. A
// handler marks the moments it waits for the client's next command with
// Idle, and the moments it works on one with Busy. When the server drains
// (Shutdown), a Conn that is idle has its read interrupted at once, and a
// busy one is left to finish its command; either way the handler learns it
// from Idle returning false or from Draining, says goodbye in its protocol
// and returns.
//
// Conn keeps the read deadline the handler set (directly, or through a TLS
// or compression layer above it) and puts it back when an interrupted
// session goes Busy again, so an interrupt never leaks into a command.
type Conn struct {
	net.Conn
	mu       sync.Mutex
	deadline time.Time // the read deadline the handler asked for
	idle     bool      // between Idle and Busy
	draining bool      // the server is shutting down
	stopped  bool      // reads fail at once: draining caught the session idle
}

// Idle marks the handler as about to wait for the client's next command
// and returns true, or returns false if the server is draining: the
// handler should then end the session.
func (c *Conn) Idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return false
	}
	c.idle = true
	return true
}

// Busy marks the handler as working on a command: a drain that starts now
// waits for it to finish.
func (c *Conn) Busy() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idle = false
	if c.stopped {
		c.stopped = false
		_ = c.Conn.SetReadDeadline(c.deadline)
	}
}

// Draining reports whether the server is shutting down. A handler whose
// read failed checks it to tell a drain from a client's fault or a timeout.
func (c *Conn) Draining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// drain starts the end of the session: an idle handler's read fails now.
func (c *Conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	if c.idle {
		c.stopped = true
		_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

// SetReadDeadline records t and applies it unless a drain stopped reads.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if c.stopped {
		return nil
	}
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets the write deadline and, as SetReadDeadline does, the
// read deadline.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}
