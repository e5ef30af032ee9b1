package proxy

import (
	"crypto/tls"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/testkit"
)

// TestHostTLS: with HostTLS the proxy speaks TLS from the first byte to
// the access hosts' implicit-TLS ports, checking their certificates
// (here the test CA's, for the hosts' addresses): IMAP login and SELECT
// and a POP3 login and STAT go through, with the same answers as over
// plain TCP. A proxy that does not trust the hosts' CA logs in nowhere:
// the client is told the server is unavailable, and the proxy's log says
// why, naming proxy.host_tls.
func TestHostTLS(t *testing.T) {
	ca := testkit.NewCA(t, "quire test CA")
	serverTLS := &tls.Config{Certificates: []tls.Certificate{ca.Server(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")}}

	d := deploy(t, deployOptions{hostTLS: serverTLS, proxyTLS: &tls.Config{RootCAs: ca.Pool()}})
	c := dial(t, d.imap)
	c.line()
	c.send("a LOGIN %s %s", d.alice.Address, d.pass)
	if got := c.until("a "); !strings.HasPrefix(got[len(got)-1], "a OK [CAPABILITY IMAP4rev1 ") {
		t.Fatalf("login over TLS to the host: %q", got)
	}
	c.send("b SELECT INBOX")
	if got := c.until("b "); got[len(got)-1] != "b OK [READ-WRITE] SELECT completed" {
		t.Fatalf("SELECT: %q", got)
	}
	p := dial(t, d.pop3)
	p.line()
	p.send("USER %s", d.bob.Address)
	p.expect("+OK send PASS")
	p.send("PASS %s", d.pass)
	p.expect("+OK maildrop has 0 messages (0 octets)")
	p.send("STAT")
	p.expect("+OK 0 0")

	other := testkit.NewCA(t, "another CA")
	d = deploy(t, deployOptions{hostTLS: serverTLS, proxyTLS: &tls.Config{RootCAs: other.Pool()}})
	c = dial(t, d.imap)
	c.line()
	c.send("a LOGIN %s %s", d.alice.Address, d.pass)
	c.expect("a NO [UNAVAILABLE] The server for this account is not available; try again shortly")
	recs := d.logs.Records("proxy: access host down; skipped for proxy.host_retry, the next host of its group serves")
	if len(recs) != 2 {
		t.Fatalf("%d hosts logged as down, want the group's two: %v", len(recs), recs)
	}
	for _, r := range recs {
		if e := r.Attrs["err"]; !strings.Contains(e, "TLS with "+r.Attrs["host"]+" (proxy.host_tls") || !strings.Contains(e, "certificate signed by unknown authority") {
			t.Errorf("host %s down: %q, want the TLS failure named", r.Attrs["host"], e)
		}
	}
}
