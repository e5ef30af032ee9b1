package lmtpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/quiremail/quire/internal/lmtpserver/lmtpwire"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// session is one LMTP connection. Its methods run on the session's own
// goroutine; drain is also driven by the server's Shutdown.
type session struct {
	srv   *Server
	conn  *ioConn
	drain drainer
	br    *bufio.Reader
	bw    *bufio.Writer
	log   *slog.Logger
	helo  string       // the LHLO argument; "" before LHLO
	tx    *transaction // the open mail transaction, or nil
}

// drainer is the session's part in a graceful shutdown (netserve.Conn):
// Idle before waiting for a command outside a transaction (false: the
// server is shutting down), Busy once a line arrived, Draining to tell an
// interrupted read from a client's fault. Inside a transaction the session
// never calls Idle, so a shutdown lets the transaction finish.
type drainer interface {
	Idle() bool
	Busy()
	Draining() bool
}

// transaction is a mail transaction: from MAIL to the end of DATA or BDAT
// LAST, or RSET.
type transaction struct {
	from  string      // the return path; "" for <>
	rcpts []recipient // the accepted recipients, in RCPT order
	bdat  *chunking   // set once the first BDAT chunk arrived
	start time.Time   // when DATA or the first BDAT arrived
}

type recipient struct {
	addr string // as RCPT gave it, for replies and logs
	user store.User
}

func newSession(srv *Server, c net.Conn, d drainer, id string) *session {
	ss := &session{srv: srv, drain: d}
	ss.conn = &ioConn{Conn: c, timeout: srv.opts.Timeout}
	ss.br = bufio.NewReader(ss.conn)
	ss.bw = bufio.NewWriter(ss.conn)
	ss.conn.flush = ss.bw.Flush
	ss.log = srv.log.With("session", id, "remote", c.RemoteAddr().String())
	return ss
}

// serve runs the session until the client quits, the connection fails, or
// the server closes.
func (ss *session) serve() {
	defer ss.conn.Close()
	defer ss.abortTx()
	defer ss.recoverPanic()
	ss.log.Debug("lmtp: connected")
	ss.reply("220 %s LMTP server ready", ss.srv.opts.Hostname)
	for ss.step() {
	}
	_ = ss.bw.Flush()
	ss.log.Debug("lmtp: disconnected")
}

// recoverPanic turns a panic into 421 (RFC 5321 3.8) and a logged stack.
func (ss *session) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	ss.log.Error("lmtp: panic in session", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	ss.reply("421 4.3.0 internal error")
	_ = ss.bw.Flush()
}

// step reads and runs one command, and reports whether to go on.
func (ss *session) step() bool {
	if ss.tx == nil && !ss.drain.Idle() {
		ss.reply("421 4.3.2 %s shutting down", ss.srv.opts.Hostname)
		return false
	}
	line, err := lmtpwire.ReadLine(ss.br, ss.srv.opts.MaxLineLength)
	ss.drain.Busy()
	if errors.Is(err, lmtpwire.ErrLineTooLong) {
		ss.reply("500 5.5.2 line too long")
		return true
	}
	if err != nil {
		return ss.readFailed(err)
	}
	if ss.srv.opts.SlowCommand <= 0 {
		return ss.dispatch(line)
	}
	start := time.Now()
	goOn := ss.dispatch(line)
	if took := time.Since(start); took >= ss.srv.opts.SlowCommand {
		verb, _ := lmtpwire.SplitCommand(line)
		ss.log.Warn("lmtp: slow command", "command", verb, "duration", took)
	}
	return goOn
}

// readFailed ends the session after a failed read, telling the client why
// when it may still listen. It returns false.
func (ss *session) readFailed(err error) bool {
	var ne net.Error
	switch {
	case ss.drain.Draining() && ss.tx == nil:
		ss.reply("421 4.3.2 %s shutting down", ss.srv.opts.Hostname)
	case errors.As(err, &ne) && ne.Timeout():
		ss.log.Info("lmtp: timeout", "timeout", ss.srv.opts.Timeout)
		ss.reply("421 4.4.2 %s timeout, closing connection", ss.srv.opts.Hostname)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		if ss.tx != nil {
			ss.log.Info("lmtp: connection closed in a transaction", "err", err)
		}
	default:
		ss.log.Info("lmtp: read failed", "err", err)
	}
	return false
}

// reply buffers one reply line; ioConn flushes it before the next read.
func (ss *session) reply(format string, args ...any) {
	_, _ = fmt.Fprintf(ss.bw, format+"\r\n", args...)
}

// dispatch runs one command line and reports whether to go on.
func (ss *session) dispatch(line string) bool {
	verb, arg := lmtpwire.SplitCommand(line)
	switch verb {
	case "LHLO":
		ss.lhlo(arg)
	case "HELO", "EHLO":
		ss.reply("500 5.5.1 this is an LMTP server: use LHLO") // RFC 2033 4.1
	case "MAIL":
		ss.mail(arg)
	case "RCPT":
		ss.rcpt(arg)
	case "DATA":
		return ss.data(arg)
	case "BDAT":
		return ss.bdat(arg)
	case "RSET":
		ss.abortTx()
		ss.reply("250 2.0.0 ok")
	case "NOOP":
		ss.reply("250 2.0.0 ok")
	case "VRFY":
		ss.reply("252 2.5.0 cannot VRFY user, but will accept mail for local users")
	case "QUIT":
		ss.reply("221 2.0.0 %s closing connection", ss.srv.opts.Hostname)
		return false
	case "STARTTLS", "AUTH", "EXPN", "HELP", "TURN", "ETRN":
		ss.reply("502 5.5.1 %s not implemented", verb)
	case "":
		ss.reply("500 5.5.2 empty command")
	default:
		ss.reply("500 5.5.2 command not recognized")
	}
	return true
}

// lhlo answers LHLO (RFC 2033 4.1) and resets the transaction (RFC 5321 4.1.4).
func (ss *session) lhlo(arg string) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		ss.reply("501 5.5.4 LHLO requires a domain or address literal")
		return
	}
	ss.abortTx()
	ss.helo = arg
	size := "SIZE"
	if m := ss.srv.opts.MaxMessageSize; m > 0 {
		size = fmt.Sprintf("SIZE %d", m)
	}
	caps := []string{ss.srv.opts.Hostname, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", size, "CHUNKING", "SMTPUTF8"}
	for i, c := range caps {
		sep := "-"
		if i == len(caps)-1 {
			sep = " "
		}
		ss.reply("250%s%s", sep, c)
	}
}

// mail opens a transaction (RFC 5321 4.1.1.2).
func (ss *session) mail(arg string) {
	switch {
	case ss.helo == "":
		ss.reply("503 5.5.1 send LHLO first")
		return
	case ss.tx != nil:
		ss.reply("503 5.5.1 nested MAIL command")
		return
	}
	rest, ok := lmtpwire.CutPrefixFold(arg, "FROM:")
	if !ok {
		ss.reply("501 5.5.4 syntax: MAIL FROM:<address>")
		return
	}
	from, params, err := lmtpwire.ParsePath(rest, true)
	if err != nil {
		ss.reply("501 5.1.7 bad sender address syntax")
		return
	}
	for _, p := range params {
		switch p.Key {
		case "SIZE": // RFC 1870 6
			n, ok := lmtpwire.ParseSize(p.Value)
			if !ok {
				ss.reply("501 5.5.4 bad SIZE value")
				return
			}
			if m := ss.srv.opts.MaxMessageSize; m > 0 && n > m {
				ss.reply("552 5.3.4 message size exceeds fixed limit")
				return
			}
		case "BODY": // RFC 6152
			if v := strings.ToUpper(p.Value); v != "7BIT" && v != "8BITMIME" {
				ss.reply("555 5.5.4 unsupported BODY value")
				return
			}
		case "SMTPUTF8": // RFC 6531 3.4
			if p.Value != "" {
				ss.reply("501 5.5.4 SMTPUTF8 takes no value")
				return
			}
		default:
			ss.reply("555 5.5.4 unsupported MAIL parameter")
			return
		}
	}
	ss.tx = &transaction{from: from}
	ss.reply("250 2.1.0 sender <%s> ok", from)
}

// rcptReply sends a reply to RCPT and tells the Observer its code.
func (ss *session) rcptReply(format string, args ...any) {
	ss.srv.opts.Observer.Recipient(format[:3])
	ss.reply(format, args...)
}

// rcpt adds a recipient (RFC 5321 4.1.1.3) if the store knows it; the
// Observer hears every reply.
func (ss *session) rcpt(arg string) {
	switch {
	case ss.tx == nil:
		ss.rcptReply("503 5.5.1 need MAIL command")
		return
	case ss.tx.bdat != nil:
		ss.rcptReply("503 5.5.1 RCPT not allowed during BDAT")
		return
	}
	rest, ok := lmtpwire.CutPrefixFold(arg, "TO:")
	if !ok {
		ss.rcptReply("501 5.5.4 syntax: RCPT TO:<address>")
		return
	}
	addr, params, err := lmtpwire.ParsePath(rest, false)
	if err != nil {
		ss.rcptReply("501 5.1.3 bad recipient address syntax")
		return
	}
	if len(params) > 0 {
		ss.rcptReply("555 5.5.4 unsupported RCPT parameter")
		return
	}
	if len(ss.tx.rcpts) >= ss.srv.opts.MaxRecipients {
		ss.rcptReply("452 4.5.3 too many recipients")
		return
	}
	ctx, cancel := context.WithTimeout(ss.srv.ctx, ss.srv.opts.Timeout)
	u, err := ss.srv.opts.Store.User(ctx, addr)
	cancel()
	switch {
	case err == nil:
		ss.tx.rcpts = append(ss.tx.rcpts, recipient{addr: addr, user: u})
		ss.rcptReply("250 2.1.5 <%s> ok", addr)
	case errors.Is(err, mail.ErrUnavailable):
		ss.log.Warn("lmtp: recipient lookup failed", "rcpt", addr, "err", err)
		ss.rcptReply("451 4.3.0 <%s>: temporary failure, try again later", addr)
	case errors.Is(err, mail.ErrNoSuchUser):
		ss.log.Info("lmtp: unknown recipient", "rcpt", addr)
		ss.rcptReply("550 5.1.1 <%s>: no such user here", addr)
	default:
		ss.log.Error("lmtp: recipient lookup failed", "rcpt", addr, "err", err)
		ss.rcptReply("451 4.3.0 <%s>: temporary failure, try again later", addr)
	}
}
