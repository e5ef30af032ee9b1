package imapserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
)

type state int

const (
	notAuthenticated state = iota
	authenticated
	selectedState
	logout
)

// conn is one client session. Its fields are used by the session's
// goroutine only; drain is also driven by the server's Shutdown.
type conn struct {
	srv      *Server
	nc       net.Conn
	drain    drainer
	id       string
	remoteIP string
	log      *slog.Logger
	secure   bool // TLS in place (implicit or after STARTTLS)
	// viaProxy: the peer is a trusted proxy (Options.TrustedProxies);
	// proxied: it has named its client (ID x-originating-ip).
	viaProxy, proxied bool

	raw io.ReadWriter // the byte stream under the buffers (TLS, deflate)
	br  *bufio.Reader
	bw  *bufio.Writer
	r   *imapwire.Reader
	w   *imapwire.Writer
	fl  flusher // flushes the deflate layer, if any

	state    state
	user     store.User
	release  []func()
	sub      *notify.Sub
	enabled  enabled
	sel      *selected
	bad      int
	compress bool
	tag      string // of the command being run

}

// enabled records ENABLEd extensions (RFC 5161) and implied ones.
type enabled struct {
	rev2, condstore, qresync, utf8 bool
}

type flusher interface{ Flush() error }

// drainer is the session's part in a graceful shutdown (netserve.Conn):
// Idle before waiting for the client (false: the server is shutting down),
// Busy while running a command, Draining to tell an interrupted read from
// a client's fault.
type drainer interface {
	Idle() bool
	Busy()
	Draining() bool
}

func (s *Server) newConn(nc net.Conn, implicitTLS bool, d drainer) *conn {
	id := strconv.FormatUint(s.nextID.Add(1), 36)
	ip, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		ip = nc.RemoteAddr().String()
	}
	c := &conn{srv: s, nc: nc, drain: d, id: id, remoteIP: ip, secure: implicitTLS,
		viaProxy: s.opts.TrustedProxies.Contains(ip),
		log:      s.log.With("proto", "imap", "session", id, "remote", nc.RemoteAddr().String())}
	c.setStream(nc)
	return c
}

// Buffer sizes per connection. Small, because thousands of connections sit
// in IDLE holding them (bench/imapidle): lines longer than the read buffer
// are assembled by imapwire, and bodies bigger than the write buffer go
// straight to the socket.
const (
	readBufSize  = 4 << 10
	writeBufSize = 4 << 10
)

// setStream puts fresh buffers and codec over rw.
func (c *conn) setStream(rw io.ReadWriter) {
	c.raw = rw
	c.br = bufio.NewReaderSize(rw, readBufSize)
	c.bw = bufio.NewWriterSize(rw, writeBufSize)
	c.w = imapwire.NewWriter(c.bw)
	c.w.SetUTF8Accept(c.enabled.utf8)
	c.r = imapwire.NewReader(c.br, c, imapwire.Limits{
		MaxLine:    c.srv.opts.MaxLineLength,
		MaxLiteral: c.srv.opts.MaxLiteralSize,
	})
	c.r.SetUTF8Accept(c.enabled.utf8)
}

// Continue sends a continuation request: the Reader calls it before a
// synchronizing literal.
func (c *conn) Continue(text string) error {
	c.bw.WriteString("+ " + text + "\r\n")
	return c.flush()
}

func (c *conn) flush() error {
	// A client that stops reading must not hold the session forever.
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.Timeout))
	if err := c.bw.Flush(); err != nil {
		return err
	}
	if c.fl != nil {
		return c.fl.Flush()
	}
	return nil
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer c.recoverSession()
	defer func() {
		for _, f := range c.release {
			f()
		}
		if c.sub != nil {
			c.sub.Close()
		}
	}()
	if c.secure {
		if tc, ok := c.nc.(*tls.Conn); ok {
			_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
			if err := tc.Handshake(); err != nil {
				c.log.Info("imap: TLS handshake failed", "err", err)
				return
			}
			_ = tc.SetDeadline(time.Time{})
		}
	}
	// A proxy's connections count against its clients' addresses once it
	// names them (cmdID), not against its own.
	if !c.viaProxy && !c.limitIP() {
		return
	}
	c.log.Debug("imap: connected")
	c.bw.WriteString("* OK [CAPABILITY " + c.capabilities() + "] " + c.srv.opts.Hostname + " Quire IMAP4rev2 ready\r\n")
	if c.flush() != nil {
		return
	}
	for c.state != logout {
		if !c.step() {
			return
		}
	}
}

// limitIP takes a session of MaxConnectionsPerIP for c.remoteIP, or says
// BYE and returns false.
func (c *conn) limitIP() bool {
	rel, ok := c.srv.perIP.Acquire(c.remoteIP)
	if !ok {
		c.bw.WriteString("* BYE [UNAVAILABLE] Too many connections from your address\r\n")
		_ = c.flush()
		return false
	}
	c.release = append(c.release, rel)
	return true
}

// recoverSession ends the session with BYE [SERVERBUG] (RFC 5530) on a
// panic outside a command's own recovery (the greeting, reading a command,
// the updates after it, IDLE): this session closes, no other.
func (c *conn) recoverSession() {
	if x := recover(); x != nil {
		c.log.Error("imap: internal error; closing the session", "panic", x, "stack", string(debug.Stack()))
		c.w.Status("", "BYE", "SERVERBUG", "Internal error; the failure was logged")
		_ = c.flush()
	}
}

// step reads and runs one command. It returns false when the connection
// must close. A shutdown that finds the session waiting for a command, or
// in the middle of reading one, ends it with BYE at once; one that finds
// it running a command ends it after the tagged reply.
func (c *conn) step() bool {
	if !c.drain.Idle() {
		return c.shuttingDown()
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.Timeout))
	cmd, err := c.r.ReadCommand()
	c.drain.Busy()
	if err != nil {
		if c.drain.Draining() {
			return c.shuttingDown()
		}
		return c.readError(err)
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.Timeout))
	ok := c.run(cmd)
	if c.flush() != nil {
		return false
	}
	return ok
}

// readError answers a command that could not be read and says whether the
// session goes on.
func (c *conn) readError(err error) bool {
	var se *imapwire.SyntaxError
	var le *imapwire.LimitError
	switch {
	case errors.As(err, &se):
		c.srv.opts.Observer.Command("", "BAD", 0)
		c.w.Status(se.Tag, "BAD", "", se.Reason)
		return c.countBad()
	case errors.As(err, &le):
		c.srv.opts.Observer.Command("", le.Status, 0)
		c.w.Status(le.Tag, le.Status, le.Code, le.Reason)
		if le.Fatal {
			c.w.Status("", "BYE", "", "Cannot skip the rest of that command; closing")
			_ = c.flush()
			return false
		}
		if le.Status == "BAD" {
			return c.countBad()
		}
		return c.flush() == nil
	case errors.Is(err, io.EOF):
		return false
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.w.Status("", "BYE", "", "Autologout; idle for too long")
			_ = c.flush()
		}
		return false
	}
}

// shuttingDown says goodbye (RFC 9051 7.1.5) because the server is
// shutting down, and returns false.
func (c *conn) shuttingDown() bool {
	c.w.Status("", "BYE", "UNAVAILABLE", "Server shutting down; reconnect shortly")
	_ = c.flush()
	return false
}

func (c *conn) countBad() bool {
	c.bad++
	if c.bad >= c.srv.opts.MaxBadCommands {
		c.w.Status("", "BYE", "", "Too many bad commands; closing")
		_ = c.flush()
		return false
	}
	return c.flush() == nil
}

// result is a command's outcome: the tagged status line.
type result struct {
	status, code, text string
	close              bool // close the connection after replying
}

func ok(text string) result           { return result{status: "OK", text: text} }
func okCode(code, text string) result { return result{status: "OK", code: code, text: text} }
func no(code, text string) result     { return result{status: "NO", code: code, text: text} }
func bad(text string) result          { return result{status: "BAD", text: text} }

// run executes cmd, catching panics, and writes its tagged reply.
func (c *conn) run(cmd *imapwire.Command) (goOn bool) {
	start := time.Now()
	c.tag = cmd.Tag
	res := func() (res result) {
		defer func() {
			if x := recover(); x != nil {
				c.log.Error("imap: internal error", "command", cmd.Name, "panic", x, "stack", string(debug.Stack()))
				_ = c.r.Discard()
				res = no("SERVERBUG", "Internal error; the failure was logged") // RFC 5530
			}
		}()
		return c.dispatch(cmd)
	}()
	if res.status == "BAD" {
		c.bad++
	} else {
		c.bad = 0
	}
	if c.state == selectedState && c.sel != nil && res.status != "BAD" && res.status != "" {
		c.updates(cmd)
	}
	if res.status != "" {
		c.w.Status(cmd.Tag, res.status, res.code, res.text)
	}
	took := time.Since(start)
	c.srv.opts.Observer.Command(cmd.Name, res.status, took)
	if slow := c.srv.opts.SlowCommand; slow > 0 && took >= slow && cmd.Name != "IDLE" {
		c.log.Warn("imap: slow command", "command", cmd.Name, "uid", cmd.UID, "status", res.status, "code", res.code, "duration", took)
	} else {
		c.log.Debug("imap: command", "command", cmd.Name, "uid", cmd.UID, "status", res.status, "code", res.code, "duration", took)
	}
	if res.close {
		_ = c.flush()
		return false
	}
	if c.bad >= c.srv.opts.MaxBadCommands {
		c.w.Status("", "BYE", "", "Too many bad commands; closing")
		_ = c.flush()
		return false
	}
	return true
}

// updates sends pending mailbox changes before a tagged reply. RFC 9051
// 7.5.1: no EXPUNGE while answering FETCH, STORE or SEARCH by sequence
// number (nor COPY, MOVE, SORT and THREAD by sequence number, whose numbers
// must stay meaningful too).
func (c *conn) updates(cmd *imapwire.Command) {
	switch cmd.Name {
	case "LOGOUT", "SELECT", "EXAMINE", "CLOSE", "UNSELECT", "IDLE":
		return
	}
	allowExpunge := true
	if !cmd.UID {
		switch cmd.Name {
		case "FETCH", "STORE", "SEARCH", "COPY", "MOVE", "SORT", "THREAD":
			allowExpunge = false
		}
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	if err := c.sel.refresh(ctx, c, allowExpunge); err != nil {
		c.log.Warn("imap: mailbox refresh failed", "err", err)
	}
}

// storeError maps a store error to a NO reply with the RFC 5530 code;
// missing says how a missing mailbox is reported (NONEXISTENT, or
// TRYCREATE for a destination, RFC 9051 6.3.12).
func (c *conn) storeError(op string, err error, missing string) result {
	switch {
	case errors.Is(err, mail.ErrNoSuchMailbox):
		return no(missing, "No such mailbox")
	case errors.Is(err, mail.ErrMailboxExists):
		return no("ALREADYEXISTS", "Mailbox already exists")
	case errors.Is(err, mail.ErrBadMailboxName):
		return no("CANNOT", "Bad mailbox name: "+err.Error())
	case errors.Is(err, mail.ErrOverQuota):
		return no("OVERQUOTA", "Over quota: delete messages and try again")
	case errors.Is(err, mail.ErrTooBig):
		return no("TOOBIG", "Message too large")
	case errors.Is(err, mail.ErrCannot):
		return no("CANNOT", err.Error())
	case errors.Is(err, mail.ErrNoSuchMessage), errors.Is(err, mail.ErrNoBlob):
		return no("EXPUNGEISSUED", "Some messages were expunged")
	case errors.Is(err, mail.ErrNoSuchUser):
		// The session's user was deleted meanwhile (a Cassandra store
		// refuses its new mailbox records).
		return no("CONTACTADMIN", "This account was deleted")
	case errors.Is(err, mail.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		c.log.Warn("imap: store unavailable", "op", op, "err", err)
		return no("UNAVAILABLE", "Store temporarily unavailable; try again")
	}
	c.log.Error("imap: store failure", "op", op, "err", err)
	return no("SERVERBUG", op+" failed; the failure was logged")
}
