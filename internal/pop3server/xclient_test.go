package pop3server

import (
	"testing"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// TestXCLIENT: a trusted proxy names its client before login, once; the
// session logs (and throttles) that address. From anyone else XCLIENT is
// an unknown command.
func TestXCLIENT(t *testing.T) {
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	var logs testkit.LogRecorder
	proxies, _ := login.ParseProxies([]string{"127.0.0.1"})
	trusted := newEnv(t, st, func(o *Options) { o.Logger, o.TrustedProxies, o.AllowPlaintext = logs.Logger(), proxies, false })
	c := trusted.dial()
	if got := c.cmd("-ERR", "XCLIENT PORT=1"); got != "-ERR XCLIENT needs ADDR=<client IP address>" {
		t.Fatalf("XCLIENT without ADDR: %q", got)
	}
	c.cmd("+OK", "XCLIENT ADDR=192.0.2.7 PORT=4321 SESSION=p9")
	if got := c.cmd("-ERR", "XCLIENT ADDR=198.51.100.1"); got != "-ERR XCLIENT was already given" {
		t.Fatalf("second XCLIENT: %q", got)
	}
	// Plaintext is allowed from the trusted proxy, allow_plaintext or not.
	c.cmd("+OK", "USER %s", trusted.user.Address)
	c.cmd("+OK", "PASS secret")
	recs := logs.Records("pop3: logged in")
	if len(recs) != 1 || recs[0].Attrs["remote"] != "192.0.2.7:4321" || recs[0].Attrs["proxy"] != c.nc.LocalAddr().String() ||
		recs[0].Attrs["proxy_session"] != "p9" {
		t.Fatalf("login records %v", recs)
	}

	other := newEnv(t, st, nil)
	o := other.dial()
	if got := o.cmd("-ERR", "XCLIENT ADDR=192.0.2.7"); got != `-ERR unknown command "XCLIENT"` {
		t.Fatalf("XCLIENT from an untrusted peer: %q", got)
	}
}
