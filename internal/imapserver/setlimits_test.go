package imapserver

import (
	"testing"
)

// TestSetLimitsPerUser: the per-user limit changed while serving (a
// reload): raised, a login refused before is let in; lowered below the
// sessions open, they stay and the next login is refused with NO [LIMIT].
func TestSetLimitsPerUser(t *testing.T) {
	e := tlsEnv(t, func(o *Options) { o.AllowPlaintext, o.MaxConnectionsPerUser = true, 1 })
	first := e.login()
	c := e.dial()
	c.expect("NO [LIMIT]", "LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	e.srv.SetLimits(Limits{MaxConnectionsPerUser: 2})
	c.expect("OK", "LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	e.srv.SetLimits(Limits{MaxConnectionsPerUser: 1})
	first.ok("NOOP")
	c.ok("NOOP")
	e.dial().expect("NO [LIMIT]", "LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	c.ok("LOGOUT")
	// One of the two ended, and one is open: still at the bound of 1.
	e.dial().expect("NO [LIMIT]", "LOGIN %s %s", quoteArg(e.user.Address), e.pass)
}
