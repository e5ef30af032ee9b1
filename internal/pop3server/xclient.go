package pop3server

import (
	"strings"

	"github.com/quiremail/quire/internal/login"
)

// xclient: a trusted proxy names the client it carries, before login, as
// Dovecot's POP3 XCLIENT does (there is no standard for POP3; Postfix's
// SMTP XCLIENT has the same form): XCLIENT ADDR=ip [PORT=n]
// [SESSION=id], each attribute NAME=value, unknown ones ignored. The
// session then throttles and logs the client's address. Answers +OK, or
// -ERR when ADDR is missing or not an address.
func (c *conn) xclient(args []string) error {
	if c.proxied {
		return c.badCmd("XCLIENT was already given")
	}
	var ip, port, session string
	for _, a := range args {
		k, v, _ := strings.Cut(a, "=")
		switch strings.ToUpper(k) {
		case "ADDR":
			ip = v
		case "PORT":
			port = v
		case "SESSION":
			session = v
		}
	}
	addr, remote, ok := login.Origin(ip, port)
	if !ok {
		return c.badCmd("XCLIENT needs ADDR=<client IP address>")
	}
	c.proxied = true
	proxy := c.nc.RemoteAddr().String()
	c.remoteIP = addr
	c.log = c.srv.log.With("proto", "pop3", "session", c.id, "remote", remote, "proxy", proxy)
	if session != "" {
		c.log = c.log.With("proxy_session", session)
	}
	c.reply("+OK")
	return nil
}
