package proxy

import (
	"net"
	"testing"
	"time"
)

// TestLimitsChangeWhileServing: a reload's new connection bound applies
// to the next connection of each protocol, refused in the protocol's own
// words, and the sessions open stay (quire proxy on SIGHUP).
func TestLimitsChangeWhileServing(t *testing.T) {
	imap := NewIMAP(IMAPOptions{Logins: fuzzLogins(), AllowPlaintext: true, MaxConnections: 1, Timeout: time.Minute})
	pop3 := NewPOP3(POP3Options{Logins: fuzzLogins(), AllowPlaintext: true, MaxConnections: 1, Timeout: time.Minute})
	lmtp := NewLMTP(LMTPOptions{Router: NewRouter(RouterOptions{}), Dir: nobody{}, MaxConnections: 1, Timeout: time.Minute})
	t.Cleanup(func() { imap.Close(); pop3.Close(); lmtp.Close() })
	for _, p := range []struct {
		name     string
		serve    func(net.Listener) error
		set      func(int)
		ok, busy string
	}{
		{"imap", imap.Serve, imap.SetMaxConnections, "* OK", "* BYE [UNAVAILABLE] Too many connections, try again later"},
		{"pop3", pop3.Serve, pop3.SetMaxConnections, "+OK", "-ERR [SYS/TEMP] too many connections, try again later"},
		{"lmtp", lmtp.Serve, lmtp.SetMaxConnections, "220", "421 4.3.2 too many connections, try again later"},
	} {
		t.Run(p.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go func() { _ = p.serve(ln) }()
			greet := func() string {
				c := dial(t, ln.Addr().String())
				l := c.line()
				if len(l) > len(p.ok) && l[:len(p.ok)] == p.ok {
					return p.ok
				}
				return l
			}
			if g := greet(); g != p.ok {
				t.Fatalf("first connection: %q", g)
			}
			if g := greet(); g != p.busy {
				t.Fatalf("second connection at a bound of 1: %q, want %q", g, p.busy)
			}
			p.set(2)
			if g := greet(); g != p.ok {
				t.Fatalf("second connection after raising the bound to 2: %q", g)
			}
			p.set(1)
			if g := greet(); g != p.busy {
				t.Fatalf("third connection after lowering the bound to 1: %q, want %q", g, p.busy)
			}
		})
	}
}
