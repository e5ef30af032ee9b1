package pop3server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strconv"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// transaction runs a command in the TRANSACTION state (RFC 1939 5).
func (c *conn) transaction(name string, args []string) error {
	switch name {
	case "CAPA":
		c.capa()
	case "NOOP":
		c.reply("+OK")
	case "STAT":
		n, size := 0, int64(0)
		for _, m := range c.msgs {
			if !m.deleted {
				n++
				size += m.size
			}
		}
		c.reply("+OK %d %d", n, size)
	case "LIST", "UIDL":
		return c.list(name, args)
	case "RETR":
		m, err := c.message(args, 1)
		if err != nil || m == nil {
			return err
		}
		return c.send(m, -1)
	case "TOP":
		m, err := c.message(args, 2)
		if err != nil || m == nil {
			return err
		}
		lines, perr := strconv.ParseUint(args[1], 10, 31)
		if perr != nil {
			return c.badCmd("TOP needs a number of lines, got %q", args[1])
		}
		return c.send(m, int(lines))
	case "DELE":
		m, err := c.message(args, 1)
		if err != nil || m == nil {
			return err
		}
		m.deleted = true
		c.reply("+OK message %s deleted", args[0])
	case "RSET":
		for i := range c.msgs {
			c.msgs[i].deleted = false
		}
		c.reply("+OK maildrop has %d messages", len(c.msgs))
	case "QUIT":
		c.quit = true
		return c.update()
	case "USER", "PASS", "AUTH", "APOP", "STLS":
		return c.badCmd("%s is not allowed after login", name)
	default:
		return c.badCmd("unknown command %q", name)
	}
	return nil
}

// message resolves the message-number argument; it replies and returns
// nil for a bad or deleted one.
func (c *conn) message(args []string, nargs int) (*msg, error) {
	if len(args) != nargs {
		return nil, c.badCmd("expected %d argument(s)", nargs)
	}
	n, err := strconv.ParseUint(args[0], 10, 31)
	if err != nil || n == 0 {
		return nil, c.badCmd("%q is not a message number", args[0])
	}
	if int(n) > len(c.msgs) {
		c.reply("-ERR no message %d (maildrop has %d)", n, len(c.msgs))
		return nil, nil
	}
	m := &c.msgs[n-1]
	if m.deleted {
		c.reply("-ERR message %d already deleted", n)
		return nil, nil
	}
	return m, nil
}

// list serves LIST and UIDL, for one message or all (RFC 1939 5, 7).
func (c *conn) list(name string, args []string) error {
	val := func(m *msg) string {
		if name == "UIDL" {
			return strconv.FormatUint(uint64(c.mb.UIDValidity), 10) + "." + strconv.FormatUint(uint64(m.uid), 10)
		}
		return strconv.FormatInt(m.size, 10)
	}
	if len(args) > 0 {
		m, err := c.message(args, 1)
		if err != nil || m == nil {
			return err
		}
		c.reply("+OK %s %s", args[0], val(m))
		return nil
	}
	c.reply("+OK %d messages", len(c.msgs))
	for i := range c.msgs {
		if !c.msgs[i].deleted {
			c.reply("%d %s", i+1, val(&c.msgs[i]))
		}
	}
	c.reply(".")
	return nil
}

// send streams a message (lines < 0) or its header and the first lines
// of its body (TOP), dot-stuffed, with CRLF line ends (RFC 1939 3).
func (c *conn) send(m *msg, lines int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b, err := c.srv.opts.Store.OpenBody(ctx, m.meta)
	if err != nil {
		if errors.Is(err, mail.ErrNoBlob) {
			c.reply("-ERR message was deleted by another session")
			return nil
		}
		return c.storeErr("open message", err)
	}
	defer b.Close()
	if lines < 0 {
		m.read = true
		c.reply("+OK %d octets", m.size)
	} else {
		c.reply("+OK top of message follows")
	}
	r := bufio.NewReaderSize(io.NewSectionReader(b, 0, m.size), 32<<10)
	inBody, bodyLines := false, 0
	for {
		line, err := readFullLine(r)
		if len(line) > 0 {
			if lines >= 0 && inBody {
				if bodyLines >= lines {
					break
				}
				bodyLines++
			}
			if line[0] == '.' {
				c.bw.WriteByte('.')
			}
			content := trimEOL(line)
			c.bw.Write(content)
			c.bw.WriteString("\r\n")
			if len(content) == 0 && !inBody {
				inBody = true
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			// The connection is mid-message and cannot report an error.
			c.log.Error("pop3: message body unreadable", "uid", m.uid, "err", err)
			return errClose
		}
	}
	c.reply(".")
	return nil
}

// readFullLine returns the next line with its line break, however long.
func readFullLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	buf := append([]byte(nil), line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		line, err = r.ReadSlice('\n')
		buf = append(buf, line...)
	}
	return buf, err
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// update is the UPDATE state (RFC 1939 6): expunge the marked messages
// and mark the retrieved ones \Seen, through the store.
func (c *conn) update() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var del, seen []mail.UID
	for _, m := range c.msgs {
		switch {
		case m.deleted:
			del = append(del, m.uid)
		case m.read:
			seen = append(seen, m.uid)
		}
	}
	st := c.srv.opts.Store
	if len(seen) > 0 {
		if _, err := st.StoreFlags(ctx, c.mb, seen, store.FlagsAdd, mail.NewFlags(`\Seen`), 0); err != nil {
			c.log.Warn("pop3: could not mark retrieved messages seen", "err", err)
		}
	}
	if len(del) > 0 {
		if _, err := st.Expunge(ctx, c.mb, del); err != nil {
			c.log.Warn("pop3: expunge at QUIT failed", "err", err)
			c.release()
			if mail.Temporary(err) {
				c.reply("-ERR [SYS/TEMP] could not delete the marked messages; they are kept, try again")
			} else {
				c.reply("-ERR [SYS/PERM] could not delete the marked messages; they are kept")
			}
			return nil
		}
	}
	// The maildrop is free before the client reads the answer, so that a
	// client that reconnects at once is not told IN-USE.
	c.release()
	c.reply("+OK %s signing off (%d messages deleted)", c.srv.opts.Hostname, len(del))
	return nil
}
