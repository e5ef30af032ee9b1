package imapserver

import (
	"testing"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// TestOriginatingIP: ID's x-originating-ip names the client only from a
// trusted proxy, once, before login; from anyone else it is only logged,
// and the session keeps the peer's address (for throttling and logs).
func TestOriginatingIP(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []string
		want    func(peer string) (remote, proxy string)
	}{
		{"untrusted", nil, func(peer string) (string, string) { return peer, "" }},
		{"trusted", []string{"127.0.0.0/8"}, func(peer string) (string, string) { return "192.0.2.7:4321", peer }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub := notify.NewHub()
			st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
			var logs testkit.LogRecorder
			proxies, err := login.ParseProxies(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, st, hub, func(o *Options) { o.Logger, o.TrustedProxies = logs.Logger(), proxies })
			c := e.dial()
			c.ok(`ID ("x-originating-ip" "192.0.2.7" "x-originating-port" "4321" "x-session-ext-id" "p9")`)
			// A second ID cannot move the session again.
			c.ok(`ID ("x-originating-ip" "198.51.100.1")`)
			c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
			c.ok("LOGOUT")
			remote, proxy := tc.want(c.nc.LocalAddr().String())
			recs := logs.Records("imap: logged in")
			if len(recs) != 1 || recs[0].Attrs["remote"] != remote || recs[0].Attrs["proxy"] != proxy {
				t.Fatalf("login records %v; want remote %s, proxy %q", recs, remote, proxy)
			}
			if proxy != "" && recs[0].Attrs["proxy_session"] != "p9" {
				t.Fatalf("login record %v lacks the proxy's session", recs[0].Attrs)
			}
		})
	}
}
