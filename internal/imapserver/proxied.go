package imapserver

import (
	"net/url"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/login"
)

// takeOrigin applies a trusted proxy's ID parameters, before login:
// "x-originating-ip" (and "x-originating-port") name the client, whose
// address the session then throttles, limits and logs; "x-session-ext-id"
// is the proxy's session, logged for correlating the two logs. It returns
// false when the client's address is over MaxConnectionsPerIP (BYE sent).
func (c *conn) takeOrigin(params []imapwire.IDParam) bool {
	if !c.viaProxy || c.proxied || c.state != notAuthenticated {
		return true
	}
	var ip, port, ext string
	for _, p := range params {
		switch strings.ToLower(p.Key) {
		case "x-originating-ip":
			ip = p.Value
		case "x-originating-port":
			port = p.Value
		case "x-session-ext-id":
			ext = p.Value
		}
	}
	addr, remote, ok := login.Origin(ip, port)
	if !ok {
		if ip != "" {
			c.log.Warn("imap: trusted proxy sent an x-originating-ip that is not an address; ignored", "value", ip)
		}
		return true
	}
	c.proxied = true
	proxy := c.nc.RemoteAddr().String()
	c.remoteIP = addr
	c.log = c.srv.log.With("proto", "imap", "session", c.id, "remote", remote, "proxy", proxy)
	if ext != "" {
		c.log = c.log.With("proxy_session", ext)
	}
	return c.limitIP()
}

// referral is the answer to a login of a user another store affinity
// group serves: a LOGIN referral (RFC 2221 4.1) to the group's first
// host, as an IMAP URL (RFC 5092) naming the user.
func referral(wg *login.WrongGroupError) result {
	host := "localhost"
	if len(wg.Hosts) > 0 {
		host = wg.Hosts[0]
	}
	u := url.URL{Scheme: "imap", User: url.User(wg.User), Host: host, Path: "/"}
	return no("REFERRAL "+u.String(), "This account is served by store affinity group "+wg.Group+"; try "+host)
}
