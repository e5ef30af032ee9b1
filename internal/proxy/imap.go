package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/netserve"
)

// IMAPOptions configure an IMAP proxy. Zero limits take the defaults
// noted.
type IMAPOptions struct {
	Logins *Logins
	Port   int // the access hosts' IMAP port (default 143)
	// HostTLS, when set, is TLS to the access hosts from the first byte:
	// Port is then their imap.tls_listen port.
	HostTLS *tls.Config
	Logger  *slog.Logger

	Hostname       string
	TLS            *tls.Config // nil: no STARTTLS and no implicit TLS
	AllowPlaintext bool        // LOGIN and AUTHENTICATE without TLS

	MaxLineLength       int           // before login (default 64 KiB)
	MaxConnections      int           // per listener; 0: no limit
	MaxConnectionsPerIP int           // 0: no limit
	MaxBadCommands      int           // in a row before login (default 20)
	Timeout             time.Duration // idle before login (default 30 min)
}

// IMAPServer is the IMAP proxy (RFC 9051): it answers until the client
// logs in, then carries the session to the access host.
type IMAPServer struct {
	front
	o     IMAPOptions
	perIP *login.Limiter
}

// NewIMAP returns an IMAP proxy with o.
func NewIMAP(o IMAPOptions) *IMAPServer {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Port == 0 {
		o.Port = 143
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 64 << 10
	}
	if o.MaxBadCommands <= 0 {
		o.MaxBadCommands = 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Minute
	}
	s := &IMAPServer{o: o, perIP: login.NewLimiter(o.MaxConnectionsPerIP)}
	s.tls = o.TLS
	s.ns = netserve.Server{
		MaxConns: o.MaxConnections,
		Busy:     "* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
		Log:      o.Logger,
		Handle: func(nc net.Conn, secure bool, d *netserve.Conn) {
			s.newSession(nc, secure, d).serve()
		},
	}
	return s
}

// imapSession is one client before login; after it, splice.
type imapSession struct {
	client
	srv      *IMAPServer
	r        *imapwire.Reader
	w        *imapwire.Writer
	bad      int
	clientID []imapwire.IDParam // what the client said in ID, passed on
	done     bool
}

// SetMaxConnectionsPerIP replaces the bound of sessions from one client
// address (0: none), for a reload; sessions open stay.
func (s *IMAPServer) SetMaxConnectionsPerIP(n int) { s.perIP.SetMax(n) }

func (s *IMAPServer) newSession(nc net.Conn, secure bool, d *netserve.Conn) *imapSession {
	c := &imapSession{srv: s, client: s.newClient(nc, secure, d, "imap", s.o.Logger)}
	c.setStream(nc)
	return c
}

func (c *imapSession) setStream(rw io.ReadWriter) {
	c.br = bufio.NewReaderSize(rw, 4<<10)
	c.bw = bufio.NewWriterSize(rw, 4<<10)
	c.w = imapwire.NewWriter(c.bw)
	c.r = imapwire.NewReader(c.br, c.w, imapwire.Limits{MaxLine: c.srv.o.MaxLineLength, MaxLiteral: int64(c.srv.o.MaxLineLength)})
}

func (c *imapSession) flush() error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.o.Timeout))
	return c.bw.Flush()
}

func (c *imapSession) capabilities() string {
	caps := []string{"IMAP4rev1", "IMAP4rev2"}
	if c.srv.o.TLS != nil && !c.secure {
		caps = append(caps, "STARTTLS")
	}
	if c.loginAllowed() {
		caps = append(caps, "AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR") // the access hosts' mechanisms
	} else {
		caps = append(caps, "LOGINDISABLED")
	}
	return strings.Join(append(caps, "LITERAL+", "ID"), " ")
}

func (c *imapSession) loginAllowed() bool { return c.secure || c.srv.o.AllowPlaintext }

func (c *imapSession) serve() {
	defer c.nc.Close()
	defer func() {
		if x := recover(); x != nil {
			c.log.Error("proxy: internal error; closing the session", "panic", x, "stack", string(debug.Stack()))
			c.w.Status("", "BYE", "SERVERBUG", "Internal error; the failure was logged")
			_ = c.flush()
		}
	}()
	if !handshake(c.nc, c.log) {
		return
	}
	rel, ok := c.srv.perIP.Acquire(c.ip)
	if !ok {
		c.bw.WriteString("* BYE [UNAVAILABLE] Too many connections from your address\r\n")
		_ = c.flush()
		return
	}
	defer rel()
	c.bw.WriteString("* OK [CAPABILITY " + c.capabilities() + "] " + c.srv.o.Hostname + " Quire IMAP proxy ready\r\n")
	if c.flush() != nil {
		return
	}
	for !c.done {
		if !c.drain.Idle() {
			c.w.Status("", "BYE", "UNAVAILABLE", "Server shutting down; reconnect shortly")
			_ = c.flush()
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.o.Timeout))
		cmd, err := c.r.ReadCommand()
		c.drain.Busy()
		if err != nil {
			if c.drain.Draining() {
				c.w.Status("", "BYE", "UNAVAILABLE", "Server shutting down; reconnect shortly")
				_ = c.flush()
				return
			}
			if !c.readError(err) {
				return
			}
			continue
		}
		_ = c.nc.SetReadDeadline(time.Time{})
		b := c.run(cmd)
		if b != nil {
			c.splice(b)
			return
		}
		if c.flush() != nil {
			return
		}
	}
}

// readError answers a command that could not be read; false ends the
// session.
func (c *imapSession) readError(err error) bool {
	var se *imapwire.SyntaxError
	var le *imapwire.LimitError
	switch {
	case errors.As(err, &se):
		c.w.Status(se.Tag, "BAD", "", se.Reason)
		return c.countBad()
	case errors.As(err, &le):
		c.w.Status(le.Tag, le.Status, le.Code, le.Reason)
		if le.Fatal {
			c.w.Status("", "BYE", "", "Cannot skip the rest of that command; closing")
			_ = c.flush()
			return false
		}
		return c.countBad()
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			c.w.Status("", "BYE", "", "Autologout; idle for too long")
			_ = c.flush()
		}
		return false
	}
}

func (c *imapSession) countBad() bool {
	c.bad++
	if c.bad >= c.srv.o.MaxBadCommands {
		c.w.Status("", "BYE", "", "Too many bad commands; closing")
		_ = c.flush()
		return false
	}
	return c.flush() == nil
}

// run answers one command before login. It returns the access host once
// a login succeeded there (its reply already passed on).
func (c *imapSession) run(cmd *imapwire.Command) *Backend {
	switch cmd.Name {
	case "CAPABILITY":
		c.w.Raw("* CAPABILITY " + c.capabilities() + "\r\n")
		c.w.Status(cmd.Tag, "OK", "", "CAPABILITY completed")
	case "NOOP":
		c.w.Status(cmd.Tag, "OK", "", "NOOP completed")
	case "LOGOUT":
		c.w.Status("", "BYE", "", "Logging out")
		c.w.Status(cmd.Tag, "OK", "", "LOGOUT completed")
		c.done = true
	case "ID":
		c.clientID = cmd.Args.(*imapwire.IDArgs).Params
		c.w.Raw(`* ID ("name" "Quire" "vendor" "Quire" "support-url" "https://github.com/quiremail/quire")` + "\r\n")
		c.w.Status(cmd.Tag, "OK", "", "ID completed")
	case "STARTTLS":
		c.startTLS(cmd.Tag)
	case "LOGIN":
		a := cmd.Args.(*imapwire.LoginArgs)
		return c.login(cmd.Tag, credentials{user: a.Username, pass: a.Password})
	case "AUTHENTICATE":
		return c.authenticate(cmd.Tag, cmd.Args.(*imapwire.AuthenticateArgs))
	default:
		c.w.Status(cmd.Tag, "BAD", "", cmd.Name+" needs a login first")
		c.done = !c.countBad()
	}
	return nil
}

// startTLS: RFC 9051 6.2.1; data pipelined after it is dropped (11.1).
func (c *imapSession) startTLS(tag string) {
	if c.srv.o.TLS == nil {
		c.w.Status(tag, "BAD", "", "STARTTLS is not available: the proxy has no certificate (tls.cert_file)")
		return
	}
	if c.secure {
		c.w.Status(tag, "BAD", "", "TLS is already active")
		return
	}
	c.w.Status(tag, "OK", "", "Begin TLS negotiation now")
	if c.flush() != nil {
		c.done = true
		return
	}
	if n := c.br.Buffered(); n > 0 {
		_, _ = c.br.Discard(n)
	}
	tc := upgrade(c.nc, c.srv.o.TLS, c.log)
	if tc == nil {
		c.done = true
		return
	}
	c.nc, c.secure = tc, true
	c.setStream(tc)
}

// authenticate: RFC 9051 6.2.2 with SASL-IR (RFC 4959); PLAIN (RFC
// 4616) and LOGIN (draft-murchison-sasl-login), the mechanisms the access
// hosts offer. Either way the proxy learns the password, checks what it
// checks of a login (login), and logs in at the host with PLAIN.
func (c *imapSession) authenticate(tag string, a *imapwire.AuthenticateArgs) *Backend {
	if a.Mechanism != "PLAIN" && a.Mechanism != "LOGIN" {
		c.w.Status(tag, "NO", "CANNOT", "Unsupported SASL mechanism "+a.Mechanism+"; use PLAIN or LOGIN")
		return nil
	}
	if !c.loginAllowed() {
		c.w.Status(tag, "NO", "PRIVACYREQUIRED", "Plaintext authentication is disabled: use STARTTLS or the TLS port")
		return nil
	}
	if a.Mechanism == "LOGIN" {
		if a.HasInitialResponse {
			c.w.Status(tag, "BAD", "", "AUTHENTICATE LOGIN takes no initial response")
			return nil
		}
		user, ok := c.saslStep(tag, false, "", "VXNlcm5hbWU6") // "Username:"
		if !ok {
			return nil
		}
		pass, ok := c.saslStep(tag, false, "", "UGFzc3dvcmQ6") // "Password:"
		if !ok {
			return nil
		}
		return c.login(tag, credentials{user: string(user), pass: string(pass)})
	}
	// RFC 4616 2: PLAIN has no challenge; an empty one asks for the message.
	msg, ok := c.saslStep(tag, a.HasInitialResponse, a.InitialResponse, "")
	if !ok {
		return nil
	}
	authz, user, pass, err := login.ParsePlain(msg)
	if err != nil {
		c.w.Status(tag, "BAD", "", "AUTHENTICATE PLAIN: "+err.Error())
		return nil
	}
	return c.login(tag, credentials{authzid: authz, user: user, pass: pass})
}

// saslStep returns the client's decoded response: the initial response
// if it sent one, else the line it answers "+ challenge" with. false: the
// exchange ended, answered (cancelled, not base64) or with the session.
func (c *imapSession) saslStep(tag string, hasIR bool, ir, challenge string) ([]byte, bool) {
	line := ir
	if !hasIR {
		c.bw.WriteString("+ " + challenge + "\r\n")
		if c.flush() != nil {
			c.done = true
			return nil, false
		}
		var err error
		if line, err = c.r.ReadLine(); err != nil {
			c.done = true
			return nil, false
		}
	}
	switch line {
	case "*":
		c.w.Status(tag, "BAD", "", "AUTHENTICATE cancelled")
		return nil, false
	case "=":
		return []byte{}, true
	}
	msg, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		c.w.Status(tag, "BAD", "", "SASL response is not valid base64")
		return nil, false
	}
	return msg, true
}

// login routes the user, connects to the group's first live host, names
// the client there (ID), and logs in; the host's reply goes to the client
// under tag.
func (c *imapSession) login(tag string, cr credentials) *Backend {
	if !c.loginAllowed() {
		c.w.Status(tag, "NO", "PRIVACYREQUIRED", "Plaintext login is disabled: use STARTTLS or the TLS port")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	obs := c.srv.o.Logins.Router.o.Observer
	adm, err := c.srv.o.Logins.admit(ctx, cr, c.ip)
	if err != nil {
		obs.Login("imap", refusal(err))
		c.refuse(tag, cr.user, err)
		return nil
	}
	log := c.log.With("user", adm.user, "group", adm.group)
	b, err := c.srv.o.Logins.Router.Connect(ctx, adm.group, c.srv.o.Port, c.srv.o.HostTLS, imapGreeting)
	if err != nil {
		obs.Login("imap", "unavailable")
		adm.done(false, false)
		log.Warn("proxy: login refused: no access host of the user's group answers", "err", err)
		c.w.Status(tag, "NO", "UNAVAILABLE", "The server for this account is not available; try again shortly")
		return nil
	}
	log = log.With("host", b.Addr)
	_ = b.SetDeadline(time.Now().Add(time.Minute))
	status, lines, err := c.hostLogin(b, tag, adm.plain)
	if err != nil {
		b.Close()
		obs.Login("imap", "unavailable")
		adm.done(false, false)
		log.Warn("proxy: login at the access host failed", "err", err)
		c.w.Status(tag, "NO", "UNAVAILABLE", "The server for this account did not answer; try again shortly")
		return nil
	}
	_ = b.SetDeadline(time.Time{})
	for _, l := range lines {
		c.bw.Write(l)
	}
	if status != "OK" {
		b.Close()
		refused := strings.Contains(string(lines[len(lines)-1]), "[AUTHENTICATIONFAILED]")
		obs.Login("imap", "refused")
		adm.done(false, refused)
		log.Info("proxy: login refused by the access host", "reply", strings.TrimSpace(string(lines[len(lines)-1])))
		return nil
	}
	adm.done(true, false)
	obs.Login("imap", "ok")
	obs.Routed("imap", adm.group, b.Addr)
	c.log = log
	log.Info("proxy: logged in")
	return b
}

// refuse answers a login the proxy itself refused.
func (c *imapSession) refuse(tag, user string, err error) {
	switch {
	case errors.Is(err, mail.ErrAuthFailed):
		c.log.Info("proxy: login failed", "user", user)
		c.w.Status(tag, "NO", "AUTHENTICATIONFAILED", "Authentication failed")
	case errors.Is(err, login.ErrBusy):
		c.log.Info("proxy: login refused: password checks busy", "user", user, "err", err)
		c.w.Status(tag, "NO", "UNAVAILABLE", "Too many logins at once; try again shortly")
	case errors.Is(err, ErrNoGroup):
		c.log.Error("proxy: login refused: cannot route the user", "user", user, "err", err)
		c.w.Status(tag, "NO", "UNAVAILABLE", "This account cannot be routed to its server; the failure was logged")
	default:
		c.log.Warn("proxy: login refused: directory unavailable", "user", user, "err", err)
		c.w.Status(tag, "NO", "UNAVAILABLE", "The directory is not available; try again shortly")
	}
}

// hostLogin names the client to the access host (ID, RFC 2971, with the
// client's own parameters) and logs in with SASL PLAIN and SASL-IR, both
// sent at once. It returns the login's tagged status and every line the
// host sent for it, the tagged one last, for the client.
func (c *imapSession) hostLogin(b *Backend, tag string, plain []byte) (string, [][]byte, error) {
	var id strings.Builder
	id.WriteString("P0 ID (")
	kv := []string{"x-originating-ip", c.ip, "x-originating-port", c.port, "x-session-ext-id", c.id}
	for _, p := range c.clientID {
		// RFC 2971 3.3: at most 30 pairs, fields of at most 1024 octets;
		// only printable ASCII, which every host's parser takes quoted.
		k := strings.ToLower(p.Key)
		if len(kv) >= 60 || !p.HasValue || strings.HasPrefix(k, "x-originating-") || k == "x-session-ext-id" ||
			!printable(p.Key, 30) || !printable(p.Value, 1024) {
			continue
		}
		kv = append(kv, p.Key, p.Value)
	}
	for i, s := range kv {
		if i > 0 {
			id.WriteByte(' ')
		}
		id.WriteString(quote(s))
	}
	id.WriteString(")\r\n")
	// Both commands in one write (RFC 9051 5.5: the host runs them in
	// order, so ID is in force when the login is judged): one round trip.
	id.WriteString(tag + " AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString(plain) + "\r\n")
	if _, err := io.WriteString(b, id.String()); err != nil {
		return "", nil, err
	}
	if st, _, err := readTagged(b.R, "P0"); err != nil {
		return "", nil, err
	} else if st != "OK" {
		c.log.Warn("proxy: the access host refused ID; it will see the proxy's address", "status", st, "host", b.Addr)
	}
	return readTagged(b.R, tag)
}

// printable reports whether s is at most max bytes of printable ASCII.
func printable(s string, max int) bool {
	if len(s) > max {
		return false
	}
	for i := range len(s) {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// quote writes s as an IMAP quoted string (RFC 9051 4.3); CR, LF and NUL,
// which a quoted string cannot hold, become spaces.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\r', '\n', 0:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// splice carries the session: the client's bytes (what it pipelined
// after the login first) to the host, the host's to the client, until
// either side closes.
func (c *imapSession) splice(b *Backend) {
	if c.flush() != nil {
		b.Close()
		return
	}
	splice(c.nc, c.br, b, c.log)
}

// imapGreeting accepts "* OK" (RFC 9051 7.1.1); PREAUTH and BYE are
// refusals, tried on the next host.
func imapGreeting(br *bufio.Reader) (string, error) {
	line, err := readLine(br, 8<<10)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "* OK") {
		return "", errors.New("greeting is not * OK: " + line)
	}
	return line, nil
}
