package imapserver

import (
	"errors"
	"runtime/debug"
	"strings"
	"time"
)

// errIdlePanic ends an IDLE whose reader panicked.
var errIdlePanic = errors.New("imap: reading during IDLE failed (internal error)")

// cmdIdle: RFC 2177. Changes to the selected mailbox are pushed as they
// happen: the hub wakes the session at once, and the Recheck timer catches
// changes made on hosts the hub does not hear from.
func (c *conn) cmdIdle() result {
	c.bw.WriteString("+ idling\r\n")
	if err := c.flush(); err != nil {
		return result{close: true}
	}
	type line struct {
		s   string
		err error
	}
	lines := make(chan line, 1)
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.Timeout))
	// Waiting for DONE is waiting for the client: a shutdown interrupts it.
	if !c.drain.Idle() {
		c.shuttingDown()
		return result{close: true}
	}
	go func() {
		defer func() { // this goroutine is outside the session's recovery
			if x := recover(); x != nil {
				c.log.Error("imap: internal error reading during IDLE; closing the session", "panic", x, "stack", string(debug.Stack()))
				lines <- line{err: errIdlePanic}
			}
		}()
		s, err := c.r.ReadLine()
		lines <- line{s, err}
	}()
	var wake <-chan struct{}
	if c.sub != nil {
		wake = c.sub.C
	}
	tick := time.NewTicker(c.srv.opts.Recheck)
	defer tick.Stop()
	push := func() bool {
		if c.sel == nil {
			return true
		}
		ctx, cancel := c.srv.ctx()
		defer cancel()
		if err := c.sel.refresh(ctx, c, true); err != nil {
			c.log.Warn("imap: refresh during IDLE failed", "err", err)
		}
		return c.flush() == nil
	}
	if !push() {
		return result{close: true}
	}
	for {
		select {
		case l := <-lines:
			c.drain.Busy()
			_ = c.nc.SetReadDeadline(time.Time{})
			if l.err != nil {
				return c.idleEnd(l.err)
			}
			if !strings.EqualFold(strings.TrimSpace(l.s), "DONE") {
				return bad("Expected DONE to end IDLE")
			}
			push()
			return ok("IDLE terminated")
		case <-wake:
			if !push() {
				return result{close: true}
			}
		case <-tick.C:
			if !push() {
				return result{close: true}
			}
		}
	}
}

// idleEnd handles a read error during IDLE: a shutdown or a timeout ends
// the session with BYE (RFC 9051 7.1.5, 5.4), anything else just closes.
func (c *conn) idleEnd(err error) result {
	if c.drain.Draining() {
		c.shuttingDown()
		return result{close: true}
	}
	switch {
	case isTimeout(err):
		c.w.Status("", "BYE", "", "Autologout; idle for too long")
	case errors.Is(err, errIdlePanic):
		c.w.Status("", "BYE", "SERVERBUG", "Internal error; the failure was logged")
	}
	return result{close: true}
}
