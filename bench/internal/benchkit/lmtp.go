package benchkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"time"
)

// LMTPClient is a minimal LMTP client (RFC 2033): LHLO once, then
// transactions of MAIL FROM, RCPT TO per recipient, DATA and one reply per
// accepted recipient.
type LMTPClient struct {
	conn    net.Conn
	tp      *textproto.Conn
	timeout time.Duration
}

// DialLMTP connects, reads the greeting and sends LHLO.
func DialLMTP(addr string, timeout time.Duration) (*LMTPClient, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &LMTPClient{conn: conn, tp: textproto.NewConn(conn), timeout: timeout}
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

func (c *LMTPClient) Close() error {
	_ = c.conn.SetDeadline(time.Now().Add(time.Second))
	_ = c.tp.PrintfLine("QUIT")
	return c.tp.Close()
}

// Abort closes a broken connection without saying QUIT.
func (c *LMTPClient) Abort() error { return c.tp.Close() }

func (c *LMTPClient) cmd(expect int, format string, args ...any) (string, error) {
	if err := c.tp.PrintfLine(format, args...); err != nil {
		return "", err
	}
	_, msg, err := c.tp.ReadResponse(expect)
	return msg, err
}

// Deliver runs one transaction (data is dot-stuffed and ends with the
// terminator, as DotStuff returns it) and returns how many recipients got a 250
// after DATA. An error that is a *textproto.Error is a rejection and leaves
// the connection usable; any other error means the connection is broken.
func (c *LMTPClient) Deliver(from string, rcpts []string, data []byte) (int, error) {
	_ = c.conn.SetDeadline(time.Now().Add(c.timeout))
	if _, err := c.cmd(250, "MAIL FROM:<%s>", from); err != nil {
		return 0, c.reset("MAIL FROM", err)
	}
	accepted := 0
	var firstErr error
	for _, r := range rcpts {
		if _, err := c.cmd(250, "RCPT TO:<%s>", r); err != nil {
			if !IsReply(err) {
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
			if !IsReply(err) {
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
func (c *LMTPClient) reset(what string, err error) error {
	if !IsReply(err) {
		return err
	}
	if what != "" {
		err = fmt.Errorf("%s: %w", what, err)
	}
	if _, rerr := c.cmd(250, "RSET"); rerr != nil && !IsReply(rerr) {
		return rerr
	}
	return err
}

// IsReply reports whether err is a server reply (the connection stays
// usable) rather than a broken connection.
func IsReply(err error) bool {
	var te *textproto.Error
	return errors.As(err, &te)
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Fill delivers perUser messages of c to each of users bench users over
// conns LMTP connections, user i getting messages i, i+1, ... of the corpus
// (round-robin), so that every target holds the same mail.
func Fill(ctx context.Context, lmtpAddr string, c *Corpus, users, perUser, conns int) error {
	wire := make([][]byte, len(c.Msgs))
	for i, m := range c.Msgs {
		wire[i] = DotStuff(m)
	}
	jobs := make(chan [2]int)
	errs := make(chan error, conns)
	for range conns {
		go func() {
			cl, err := DialLMTP(lmtpAddr, time.Minute)
			if err != nil {
				errs <- err
				for range jobs {
				}
				return
			}
			defer cl.Close()
			var first error
			for j := range jobs {
				if first != nil {
					continue
				}
				rcpt := []string{User(j[0])}
				if n, err := cl.Deliver("bench-fill@bench.test", rcpt, wire[j[1]%len(wire)]); err != nil || n != 1 {
					first = fmt.Errorf("fill %s: %d delivered: %v", rcpt[0], n, err)
				}
			}
			errs <- first
		}()
	}
	for k := range perUser {
		for u := 1; u <= users && ctx.Err() == nil; u++ {
			jobs <- [2]int{u, u + k}
		}
	}
	close(jobs)
	var first error
	for range conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// Ready finishes starting a target: when it started (startErr nil), it
// fills every user's INBOX with perUser messages of c. On failure it logs
// and returns the reason to report the target as skipped, with a note;
// otherwise it adds the target's own note, if any, and returns "".
func Ready(ctx context.Context, log Logger, label string, t *Target, startErr error, c *Corpus, users, perUser int, notes *[]string) string {
	err := startErr
	if err == nil {
		log.Printf("%s: delivering %d messages to each of %d users", label, perUser, users)
		t0 := time.Now()
		err = Fill(ctx, t.LMTP, c, users, perUser, 4)
		log.Printf("%s: filled in %v", label, time.Since(t0).Round(time.Millisecond))
	}
	if err != nil {
		log.Printf("%s: skipped: %v", label, err)
		skip := FirstLine(err.Error())
		*notes = append(*notes, fmt.Sprintf("%s skipped: %s", label, skip))
		return skip
	}
	if t.Note != "" {
		*notes = append(*notes, label+": "+t.Note)
	}
	return ""
}
