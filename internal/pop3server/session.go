package pop3server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// conn is one POP3 session; its fields belong to the session goroutine.
type conn struct {
	srv      *Server
	nc       net.Conn
	drain    drainer
	br       *bufio.Reader
	bw       *bufio.Writer
	log      *slog.Logger
	remoteIP string
	secure   bool
	id       string
	// viaProxy: the peer is a trusted proxy; proxied: it named its client.
	viaProxy, proxied bool

	user   string // from USER, waiting for PASS
	u      store.User
	locked bool
	mb     store.Mailbox
	msgs   []msg // the maildrop snapshot; message n is msgs[n-1]
	bad    int
	quit   bool
	status string // of the first reply line of the running command
	inTx   bool   // counted in Observer.Session
}

type msg struct {
	uid     mail.UID
	size    int64
	meta    store.MessageMeta
	deleted bool
	read    bool
}

// errClose ends the session after the reply already written.
var errClose = errors.New("pop3: close")

func (c *conn) setStream(rw io.ReadWriter) {
	c.br = bufio.NewReaderSize(rw, 4096)
	c.bw = bufio.NewWriterSize(rw, 32<<10)
}

func (c *conn) reply(format string, args ...any) {
	if c.status == "" {
		switch {
		case strings.HasPrefix(format, "+OK"):
			c.status = "+OK"
		case strings.HasPrefix(format, "-ERR"):
			c.status = "-ERR"
		}
	}
	fmt.Fprintf(c.bw, format, args...)
	c.bw.WriteString("\r\n")
}

func (c *conn) flush() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.opts.Timeout))
	return c.bw.Flush()
}

// release gives the maildrop back, once.
func (c *conn) release() {
	if c.locked {
		c.srv.unlock(c.u.ID)
		c.locked = false
	}
	if c.inTx {
		c.srv.opts.Observer.Session(-1)
		c.inTx = false
	}
}

func (c *conn) serve() {
	defer c.nc.Close()
	defer func() { // a panic outside a command (TLS, reading): this session closes, no other
		if x := recover(); x != nil {
			c.log.Error("pop3: internal error; closing the session", "panic", x, "stack", string(debug.Stack()))
			c.reply("-ERR [SYS/PERM] internal error; the failure was logged")
			_ = c.flush()
		}
	}()
	defer c.release()
	if tc, ok := c.nc.(*tls.Conn); ok {
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.log.Info("pop3: TLS handshake failed", "err", err)
			return
		}
		_ = tc.SetDeadline(time.Time{})
	}
	c.reply("+OK %s Quire POP3 ready", c.srv.opts.Hostname)
	for !c.quit {
		if c.br.Buffered() == 0 { // RFC 2449 6.6: flush only when the client waits
			if c.flush() != nil {
				return
			}
		}
		if !c.drain.Idle() {
			c.shuttingDown()
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.Timeout))
		line, err := c.readLine()
		c.drain.Busy()
		if err != nil && c.drain.Draining() {
			c.shuttingDown()
			return
		}
		if errors.Is(err, errTooLong) {
			c.reply("-ERR line too long (limit %d bytes)", c.srv.opts.MaxLineLength)
			if !c.countBad() {
				break
			}
			continue
		}
		if err != nil {
			if isTimeout(err) {
				c.reply("-ERR idle for too long, closing")
				_ = c.flush()
			}
			return
		}
		if err := c.runSafe(line); err != nil {
			break
		}
	}
	_ = c.flush()
}

// shuttingDown tells the client the server is going away (RFC 3206
// SYS/TEMP: try again later) and flushes. The session ends without the
// UPDATE state: messages marked for deletion stay (RFC 1939 6).
func (c *conn) shuttingDown() {
	c.reply("-ERR [SYS/TEMP] server shutting down")
	_ = c.flush()
}

var errTooLong = errors.New("line too long")

// readLine reads one command line without its line break, bounded by
// MaxLineLength; an over-long line is skipped whole.
func (c *conn) readLine() (string, error) {
	var b []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		if len(b)+len(chunk) > c.srv.opts.MaxLineLength {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = c.br.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			return "", errTooLong
		}
		b = append(b, chunk...)
		if err == nil {
			return strings.TrimRight(string(b), "\r\n"), nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *conn) countBad() bool {
	c.bad++
	if c.bad >= c.srv.opts.MaxBadCommands {
		c.reply("-ERR too many bad commands, closing")
		return false
	}
	return true
}

// runSafe runs one command; a panic becomes -ERR [SYS/PERM] and a log line.
func (c *conn) runSafe(line string) (err error) {
	start := time.Now()
	c.status = ""
	defer func() { c.observe(line, time.Since(start)) }() // after the recovery's reply
	defer func() {
		if x := recover(); x != nil {
			c.log.Error("pop3: internal error", "panic", x, "stack", string(debug.Stack()))
			c.reply("-ERR [SYS/PERM] internal error; the failure was logged")
			err = errClose
		}
	}()
	return c.run(line)
}

// observe tells the Observer of the command line that ran, and logs it
// when slow. The USER, PASS and AUTH arguments are never logged.
func (c *conn) observe(line string, took time.Duration) {
	name, _, _ := strings.Cut(line, " ")
	if len(name) > 16 {
		name = name[:16]
	}
	name = strings.ToUpper(name)
	c.srv.opts.Observer.Command(name, c.status, took)
	if slow := c.srv.opts.SlowCommand; slow > 0 && took >= slow {
		c.log.Warn("pop3: slow command", "command", name, "status", c.status, "duration", took)
	}
}

func (c *conn) run(line string) error {
	name, arg, _ := strings.Cut(line, " ")
	name = strings.ToUpper(name)
	var args []string
	if arg != "" {
		args = strings.Fields(arg)
	}
	c.log.Debug("pop3: command", "command", name)
	if c.locked {
		return c.transaction(name, args)
	}
	return c.authorization(name, arg, args)
}

func (c *conn) badCmd(format string, a ...any) error {
	c.reply("-ERR "+format, a...)
	if !c.countBad() {
		return errClose
	}
	return nil
}

// loginAllowed: over TLS, with AllowPlaintext, or from a trusted proxy
// (which holds the client's TLS).
func (c *conn) loginAllowed() bool { return c.secure || c.srv.opts.AllowPlaintext || c.viaProxy }

// capa lists capabilities for the current state (RFC 2449 5).
func (c *conn) capa() {
	c.reply("+OK capability list follows")
	for _, l := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER", "LOGIN-DELAY 0", "IMPLEMENTATION Quire"} {
		c.reply("%s", l)
	}
	if !c.locked && c.loginAllowed() {
		c.reply("USER")
		c.reply("SASL PLAIN")
	}
	if !c.locked && !c.secure && c.srv.opts.TLS != nil {
		c.reply("STLS")
	}
	c.reply(".")
}

func (c *conn) authorization(name, rawArg string, args []string) error {
	switch name {
	case "CAPA":
		c.capa()
	case "QUIT":
		c.reply("+OK %s signing off", c.srv.opts.Hostname)
		c.quit = true
	case "NOOP":
		return c.badCmd("NOOP needs a login first")
	case "STLS":
		return c.stls()
	case "USER":
		if !c.loginAllowed() {
			c.reply("-ERR [AUTH] plaintext login is disabled: use STLS first")
			return nil
		}
		if len(args) != 1 {
			return c.badCmd("USER takes one argument, the user name")
		}
		c.user = args[0]
		c.reply("+OK send PASS")
	case "PASS":
		if c.user == "" {
			return c.badCmd("USER first")
		}
		user := c.user
		c.user = ""
		return c.login("", user, rawArg) // the password may contain spaces
	case "AUTH":
		return c.auth(args)
	case "XCLIENT":
		if !c.viaProxy {
			return c.badCmd("unknown command %q", name)
		}
		return c.xclient(args)
	case "APOP":
		c.reply("-ERR APOP is not supported; use USER/PASS or AUTH PLAIN over TLS")
	default:
		if isTransactionCmd(name) {
			return c.badCmd("%s needs a login first", name)
		}
		return c.badCmd("unknown command %q", name)
	}
	return nil
}

func isTransactionCmd(name string) bool {
	switch name {
	case "STAT", "LIST", "RETR", "DELE", "RSET", "TOP", "UIDL":
		return true
	}
	return false
}

// stls: RFC 2595 4. Data pipelined after STLS is dropped (no plaintext
// injection into the TLS session).
func (c *conn) stls() error {
	if c.srv.opts.TLS == nil {
		return c.badCmd("STLS is not available: the server has no certificate")
	}
	if c.secure {
		return c.badCmd("TLS is already active")
	}
	c.reply("+OK begin TLS negotiation")
	if err := c.flush(); err != nil {
		return err
	}
	if n := c.br.Buffered(); n > 0 {
		_, _ = c.br.Discard(n)
	}
	tc := tls.Server(c.nc, c.srv.opts.TLS)
	_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		c.log.Info("pop3: STLS handshake failed", "err", err)
		return errClose
	}
	_ = tc.SetDeadline(time.Time{})
	c.nc, c.secure, c.user = tc, true, ""
	c.setStream(tc)
	return nil
}

// auth: RFC 5034, PLAIN only, with an initial response or a "+ "
// continuation; "*" cancels.
func (c *conn) auth(args []string) error {
	if len(args) == 0 {
		c.reply("+OK")
		c.reply("PLAIN")
		c.reply(".")
		return nil
	}
	if !c.loginAllowed() {
		c.reply("-ERR [AUTH] plaintext authentication is disabled: use STLS first")
		return nil
	}
	if !strings.EqualFold(args[0], "PLAIN") || len(args) > 2 {
		return c.badCmd("unsupported SASL mechanism %q; use PLAIN", args[0])
	}
	resp := ""
	if len(args) == 2 {
		resp = args[1]
	} else {
		c.reply("+ ")
		if err := c.flush(); err != nil {
			return err
		}
		line, err := c.readLine()
		if err != nil {
			return errClose
		}
		resp = line
	}
	if resp == "*" {
		c.reply("-ERR authentication cancelled")
		return nil
	}
	if resp == "=" {
		resp = ""
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return c.badCmd("SASL response is not valid base64")
	}
	authz, user, pass, err := login.ParsePlain(b)
	if err != nil {
		return c.badCmd("%s", err.Error())
	}
	return c.login(authz, user, pass)
}

// login authenticates, locks the maildrop and takes its snapshot; the
// maildrop is authzid's when it names another user (a service
// administrator's SASL PLAIN).
func (c *conn) login(authzid, user, pass string) error {
	if !c.loginAllowed() {
		c.reply("-ERR [AUTH] plaintext login is disabled: use STLS first")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := c.srv.opts.Auth.LoginAs(ctx, authzid, user, pass, c.remoteIP)
	var wrong *login.WrongGroupError
	switch {
	case errors.As(err, &wrong):
		// POP3 has no referral (RFC 2221 is IMAP's): name the group and
		// its hosts; SYS/TEMP (RFC 3206 4) so a client tries again later
		// rather than drop the account.
		c.reply("-ERR [SYS/TEMP] this account is served by store affinity group %s (%s); connect there or through the proxy",
			wrong.Group, strings.Join(wrong.Hosts, ", "))
		return nil
	case errors.Is(err, mail.ErrAuthFailed):
		c.log.Info("pop3: login failed", "user", user)
		c.reply("-ERR [AUTH] authentication failed")
		return nil
	case errors.Is(err, login.ErrBusy):
		// RFC 3206 4: SYS/TEMP, a temporary failure; the password was not judged.
		c.log.Info("pop3: login refused: password checks busy", "user", user, "err", err)
		c.reply("-ERR [SYS/TEMP] too many logins at once, try again shortly")
		return nil
	case err != nil:
		return c.storeErr("login", err)
	}
	if !c.srv.lock(u.ID) {
		c.reply("-ERR [IN-USE] the maildrop is open in another POP3 session")
		return nil
	}
	c.u, c.locked = u, true
	c.log = c.log.With("user", u.Address)
	if err := c.snapshot(ctx); err != nil {
		c.srv.unlock(u.ID)
		c.locked = false
		return c.storeErr("open maildrop", err)
	}
	var size int64
	for _, m := range c.msgs {
		size += m.size
	}
	c.inTx = true
	c.srv.opts.Observer.Session(1)
	c.log.Info("pop3: logged in", "messages", len(c.msgs))
	c.reply("+OK maildrop has %d messages (%d octets)", len(c.msgs), size)
	return nil
}

func (c *conn) snapshot(ctx context.Context) error {
	st := c.srv.opts.Store
	mb, err := st.Mailbox(ctx, c.u, "INBOX")
	if err != nil {
		return err
	}
	c.mb = mb
	return st.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		meta := r.Meta
		meta.Structure = nil // not needed; keeps the snapshot small
		c.msgs = append(c.msgs, msg{uid: r.UID, size: r.Meta.Size, meta: meta})
		return nil
	})
}

// storeErr answers a store failure: [SYS/TEMP] when it may pass.
func (c *conn) storeErr(op string, err error) error {
	if mail.Temporary(err) || errors.Is(err, context.DeadlineExceeded) {
		c.log.Warn("pop3: store unavailable", "op", op, "err", err)
		c.reply("-ERR [SYS/TEMP] %s: store temporarily unavailable, try again later", op)
		return nil
	}
	c.log.Error("pop3: store failure", "op", op, "err", err)
	c.reply("-ERR [SYS/PERM] %s failed; the failure was logged", op)
	return nil
}
