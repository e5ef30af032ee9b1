package imapclient

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Bodies is one UID FETCH of many messages' bodies, read response by
// response as the server streams them: a batch costs one round trip, and
// the client holds one message at a time, not the batch.
type Bodies struct {
	c        *Client
	tag, cmd string
	err      error // io.EOF after the tagged OK
}

// FetchBodies sends "UID FETCH first:last (UID BODY.PEEK[])" for the
// examined mailbox: every message with a UID from first to last, byte
// for byte, without setting \Seen (RFC 3501 6.4.5, BODY.PEEK). Next reads
// the messages as they arrive; until it has returned io.EOF or an error,
// or Drain has run, the client sends no other command.
func (c *Client) FetchBodies(first, last uint32) (*Bodies, error) {
	if first == 0 || last < first {
		return nil, fmt.Errorf("imapclient: UID FETCH %d:%d: want 0 < first <= last", first, last)
	}
	cmd := fmt.Sprintf("UID FETCH %d:%d (UID BODY.PEEK[])", first, last)
	tag, err := c.send(cmd)
	if err != nil {
		return nil, err
	}
	b := &Bodies{c: c, tag: tag, cmd: cmd}
	c.bodies = b
	return b, nil
}

// Next returns the next message the server sends, its UID and Body set,
// or io.EOF after the command's tagged OK. A FETCH response without a
// body (flags another session changed, which a server may send at any
// time: RFC 3501 7.4.2) is passed over. Each response gets Timeout of
// its own, so a long batch read slowly is not cut short.
func (b *Bodies) Next() (Message, error) {
	for b.err == nil {
		_ = b.c.conn.SetDeadline(time.Now().Add(b.c.o.Timeout))
		none := ""
		r, done, err := b.c.next(b.tag, b.cmd, &none)
		switch {
		case done && err != nil: // a refusal: the exchange ended cleanly
			b.end(err, false)
		case err != nil:
			b.end(err, true)
		case done:
			b.end(io.EOF, false)
		default:
			m, ok, err := fetched(r)
			if err != nil {
				b.end(err, true)
			} else if ok && m.UID != 0 && m.Body != nil {
				return m, nil
			}
		}
	}
	return Message{}, b.err
}

// Drain reads what is left of the batch, discarding it, so that the
// client can send its next command.
func (b *Bodies) Drain() error {
	for {
		if _, err := b.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// end ends the batch with err (io.EOF: complete). After a broken
// exchange (a response unread or unreadable) the client sends nothing
// more: where the next response starts is unknown.
func (b *Bodies) end(err error, broken bool) {
	b.err = err
	if broken {
		b.c.broken = err
	}
	if b.c.bodies == b {
		b.c.bodies = nil
	}
}
