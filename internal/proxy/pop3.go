package proxy

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
	"github.com/quiremail/quire/internal/netserve"
)

// POP3Options configure a POP3 proxy.
type POP3Options struct {
	Logins *Logins
	Port   int // the access hosts' POP3 port (default 110)
	// HostTLS, when set, is TLS to the access hosts from the first byte:
	// Port is then their pop3.tls_listen port.
	HostTLS        *tls.Config
	Logger         *slog.Logger
	Hostname       string
	TLS            *tls.Config // nil: no STLS and no implicit TLS
	AllowPlaintext bool
	MaxLineLength  int           // default 1024
	MaxConnections int           // per listener; 0: no limit
	MaxBadCommands int           // default 10
	Timeout        time.Duration // idle before login (default 10 min)
}

// POP3Server is the POP3 proxy (RFC 1939, 2449, 5034, 2595).
type POP3Server struct {
	front
	o POP3Options
}

// NewPOP3 returns a POP3 proxy with o.
func NewPOP3(o POP3Options) *POP3Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Port == 0 {
		o.Port = 110
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 1024
	}
	if o.MaxBadCommands <= 0 {
		o.MaxBadCommands = 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	s := &POP3Server{o: o}
	s.tls = o.TLS
	s.ns = netserve.Server{
		MaxConns: o.MaxConnections,
		Busy:     "-ERR [SYS/TEMP] too many connections, try again later\r\n",
		Log:      o.Logger,
		Handle: func(nc net.Conn, secure bool, d *netserve.Conn) {
			s.newSession(nc, secure, d).serve()
		},
	}
	return s
}

type pop3Session struct {
	client
	srv  *POP3Server
	user string // from USER, waiting for PASS
	bad  int
	quit bool
}

func (s *POP3Server) newSession(nc net.Conn, secure bool, d *netserve.Conn) *pop3Session {
	return &pop3Session{srv: s, client: s.newClient(nc, secure, d, "pop3", s.o.Logger)}
}

func (c *pop3Session) setStream(rw io.ReadWriter) {
	c.br = bufio.NewReaderSize(rw, 4096)
	c.bw = bufio.NewWriterSize(rw, 4096)
}

func (c *pop3Session) reply(format string, args ...any) {
	fmt.Fprintf(c.bw, format, args...)
	c.bw.WriteString("\r\n")
}

func (c *pop3Session) flush() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.o.Timeout))
	return c.bw.Flush()
}

func (c *pop3Session) loginAllowed() bool { return c.secure || c.srv.o.AllowPlaintext }

func (c *pop3Session) serve() {
	defer c.nc.Close()
	defer func() {
		if x := recover(); x != nil {
			c.log.Error("proxy: internal error; closing the session", "panic", x, "stack", string(debug.Stack()))
			c.reply("-ERR [SYS/PERM] internal error; the failure was logged")
			_ = c.flush()
		}
	}()
	if !handshake(c.nc, c.log) {
		return
	}
	c.reply("+OK %s Quire POP3 proxy ready", c.srv.o.Hostname)
	for !c.quit {
		if c.br.Buffered() == 0 && c.flush() != nil {
			return
		}
		if !c.drain.Idle() {
			c.reply("-ERR [SYS/TEMP] server shutting down")
			_ = c.flush()
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.o.Timeout))
		line, err := readLine(c.br, c.srv.o.MaxLineLength)
		c.drain.Busy()
		if err != nil {
			switch {
			case c.drain.Draining():
				c.reply("-ERR [SYS/TEMP] server shutting down")
			case errors.Is(err, errReplyTooLong):
				c.reply("-ERR line too long (limit %d bytes)", c.srv.o.MaxLineLength)
			}
			_ = c.flush()
			return
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		if b := c.run(line); b != nil {
			if c.flush() != nil {
				b.Close()
				return
			}
			splice(c.nc, c.br, b, c.log)
			return
		}
	}
	_ = c.flush()
}

// run answers one command of the AUTHORIZATION state (RFC 1939 4); it
// returns the access host once a login succeeded there.
func (c *pop3Session) run(line string) *Backend {
	name, rawArg, _ := strings.Cut(line, " ")
	name = strings.ToUpper(name)
	args := strings.Fields(rawArg)
	switch name {
	case "CAPA":
		c.reply("+OK capability list follows")
		for _, l := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION Quire-proxy"} {
			c.reply("%s", l)
		}
		if c.loginAllowed() {
			c.reply("USER")
			c.reply("SASL PLAIN")
		}
		if !c.secure && c.srv.o.TLS != nil {
			c.reply("STLS")
		}
		c.reply(".")
	case "QUIT":
		c.reply("+OK %s signing off", c.srv.o.Hostname)
		c.quit = true
	case "STLS":
		c.stls()
	case "USER":
		switch {
		case !c.loginAllowed():
			c.reply("-ERR [AUTH] plaintext login is disabled: use STLS first")
		case len(args) != 1:
			c.badCmd("USER takes one argument, the user name")
		default:
			c.user = args[0]
			c.reply("+OK send PASS")
		}
	case "PASS":
		if c.user == "" {
			c.badCmd("USER first")
			return nil
		}
		user := c.user
		c.user = ""
		return c.login(credentials{user: user, pass: rawArg})
	case "AUTH":
		return c.auth(args)
	default:
		c.badCmd("%s needs a login first", name)
	}
	return nil
}

func (c *pop3Session) badCmd(format string, a ...any) {
	c.reply("-ERR "+format, a...)
	c.bad++
	if c.bad >= c.srv.o.MaxBadCommands {
		c.reply("-ERR too many bad commands, closing")
		c.quit = true
	}
}

// stls: RFC 2595 4; data pipelined after it is dropped.
func (c *pop3Session) stls() {
	if c.srv.o.TLS == nil || c.secure {
		c.badCmd("STLS is not available here")
		return
	}
	c.reply("+OK begin TLS negotiation")
	if c.flush() != nil {
		c.quit = true
		return
	}
	if n := c.br.Buffered(); n > 0 {
		_, _ = c.br.Discard(n)
	}
	tc := upgrade(c.nc, c.srv.o.TLS, c.log)
	if tc == nil {
		c.quit = true
		return
	}
	c.nc, c.secure, c.user = tc, true, ""
	c.setStream(tc)
}

// auth: RFC 5034, PLAIN only.
func (c *pop3Session) auth(args []string) *Backend {
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
		c.badCmd("unsupported SASL mechanism %q; use PLAIN", args[0])
		return nil
	}
	resp := ""
	if len(args) == 2 {
		resp = args[1]
	} else {
		c.reply("+ ")
		if c.flush() != nil {
			c.quit = true
			return nil
		}
		line, err := readLine(c.br, c.srv.o.MaxLineLength)
		if err != nil {
			c.quit = true
			return nil
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
	msg, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		c.badCmd("SASL response is not valid base64")
		return nil
	}
	authz, user, pass, err := login.ParsePlain(msg)
	if err != nil {
		c.badCmd("%s", err.Error())
		return nil
	}
	return c.login(credentials{authzid: authz, user: user, pass: pass})
}

// login routes the user, connects to the group's first live host, names
// the client (XCLIENT) and logs in with AUTH PLAIN; the host's answer
// goes to the client.
func (c *pop3Session) login(cr credentials) *Backend {
	if !c.loginAllowed() {
		c.reply("-ERR [AUTH] plaintext login is disabled: use STLS first")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs := c.srv.o.Logins.Router.o.Observer
	adm, err := c.srv.o.Logins.admit(ctx, cr, c.ip)
	if err != nil {
		obs.Login("pop3", refusal(err))
		switch {
		case errors.Is(err, mail.ErrAuthFailed):
			c.log.Info("proxy: login failed", "user", cr.user)
			c.reply("-ERR [AUTH] authentication failed")
		case errors.Is(err, ErrNoGroup):
			c.log.Error("proxy: login refused: cannot route the user", "user", cr.user, "err", err)
			c.reply("-ERR [SYS/TEMP] this account cannot be routed to its server; the failure was logged")
		default:
			c.log.Warn("proxy: login refused", "user", cr.user, "err", err)
			c.reply("-ERR [SYS/TEMP] the directory is not available, try again shortly")
		}
		return nil
	}
	log := c.log.With("user", adm.user, "group", adm.group)
	b, err := c.srv.o.Logins.Router.Connect(ctx, adm.group, c.srv.o.Port, c.srv.o.HostTLS, pop3Greeting)
	if err != nil {
		obs.Login("pop3", "unavailable")
		adm.done(false, false)
		log.Warn("proxy: login refused: no access host of the user's group answers", "err", err)
		c.reply("-ERR [SYS/TEMP] the server for this account is not available, try again shortly")
		return nil
	}
	log = log.With("host", b.Addr)
	_ = b.SetDeadline(time.Now().Add(time.Minute))
	answer, err := c.hostLogin(b, adm.plain)
	if err != nil {
		b.Close()
		obs.Login("pop3", "unavailable")
		adm.done(false, false)
		log.Warn("proxy: login at the access host failed", "err", err)
		c.reply("-ERR [SYS/TEMP] the server for this account did not answer, try again shortly")
		return nil
	}
	_ = b.SetDeadline(time.Time{})
	c.reply("%s", answer)
	if !strings.HasPrefix(answer, "+OK") {
		b.Close()
		obs.Login("pop3", "refused")
		adm.done(false, strings.HasPrefix(answer, "-ERR [AUTH]"))
		log.Info("proxy: login refused by the access host", "reply", answer)
		return nil
	}
	adm.done(true, false)
	obs.Login("pop3", "ok")
	obs.Routed("pop3", adm.group, b.Addr)
	c.log = log
	log.Info("proxy: logged in")
	return b
}

// hostLogin sends XCLIENT (see pop3server's xclient) and AUTH PLAIN with
// an initial response, and returns the host's answer to AUTH.
func (c *pop3Session) hostLogin(b *Backend, plain []byte) (string, error) {
	x := "XCLIENT ADDR=" + c.ip + " SESSION=" + c.id
	if c.port != "" {
		x += " PORT=" + c.port
	}
	if _, err := io.WriteString(b, x+"\r\n"); err != nil {
		return "", err
	}
	line, err := readLine(b.R, 4096)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "+OK") {
		c.log.Warn("proxy: the access host refused XCLIENT (is this proxy in its server.trusted_proxies?); it will see the proxy's address",
			"reply", line, "host", b.Addr)
	}
	if _, err := io.WriteString(b, "AUTH PLAIN "+base64.StdEncoding.EncodeToString(plain)+"\r\n"); err != nil {
		return "", err
	}
	return readLine(b.R, 4096)
}

// pop3Greeting accepts "+OK" (RFC 1939 4).
func pop3Greeting(br *bufio.Reader) (string, error) {
	line, err := readLine(br, 4096)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "+OK") {
		return "", errors.New("greeting is not +OK: " + line)
	}
	return line, nil
}
