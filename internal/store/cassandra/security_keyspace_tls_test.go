package cassandra

import (
	"errors"
	"testing"

	"github.com/quiremail/quire/internal/store/cassandra/securetest"
)

// TestSecurePerKeyspaceTLS: no shared TLS at all; the metadata keyspace
// on node one with TLS of its own (the CA, verify "full", no client
// certificate), the bodies on node two with theirs (a client
// certificate, verify "ca"), the cache on node two at verify "none".
// Every keyspace serves, each with its own session (the cache and the
// bodies share a node, not a TLS setting). Then, one at a time: the
// bodies' CA replaced by one that signed nothing of the node's, their
// client certificate left out, and the metadata keyspace's TLS turned
// off fail, naming the node and that keyspace's keys.
func TestSecurePerKeyspaceTLS(t *testing.T) {
	env := securetest.Nodes(t)
	base := func() Options {
		o := secureOptions(env, env.One, "", "")
		o.TLS = TLSOptions{}
		o.Meta = KeyspaceOptions{Name: "quiretls_mbox", ConnectPoints: []string{env.One}, RF: 1,
			Username: securetest.OneUser, Password: securetest.OnePassword,
			TLS: TLSOptions{Enable: true, CAFile: env.CAFile(), Verify: "full"}}
		o.Msg = KeyspaceOptions{Name: "quiretls_msg", ConnectPoints: []string{env.Two}, RF: 1,
			Username: securetest.TwoUser, Password: securetest.TwoPassword,
			TLS: TLSOptions{Enable: true, CAFile: env.CAFile(), CertFile: env.ClientCert(), KeyFile: env.ClientKey(), Verify: "ca"}}
		o.Cache = o.Msg
		o.Cache.Name = "quiretls_cache"
		o.Cache.TLS.Verify, o.Cache.TLS.CAFile = "none", ""
		return o
	}
	b := mustOpen(t, base())
	if len(b.owned) != 3 {
		t.Errorf("%d sessions, want 3: the bodies' and the cache's TLS settings differ", len(b.owned))
	}
	roundTrip(t, b)

	other, _, _ := writeCert(t, t.TempDir(), "other-ca", nil)
	o := base()
	o.Msg.TLS.CAFile = other
	_, err := openSecure(t, o)
	wantConnectError(t, err, CertUntrusted, env.Two, "cassandra "+env.Two+": TLS: the node's certificate is not signed by a CA in "+
		"store.casmsgtls.cafile ("+other+"): set store.casmsgtls.cafile to the CA that signed the nodes' certificates "+
		"(x509: certificate signed by unknown authority)")

	o = base()
	o.Msg.TLS.CertFile, o.Msg.TLS.KeyFile = "", ""
	_, err = openSecure(t, o)
	wantWithheld(t, err, env.Two, "TLS: the node requires a client certificate (require_client_auth): "+
		"set store.casmsgtls.certfile and store.casmsgtls.keyfile")

	o = base()
	o.Meta.TLS = TLSOptions{}
	_, err = openSecure(t, o)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("the metadata keyspace without TLS: %v (%T), want a *ConnectError", err, err)
	}
	wantConnectError(t, err, TLSRequired, env.One, "cassandra "+env.One+": the node closed the connection at the start of the CQL handshake: "+
		"if it requires TLS (client_encryption_options), set store.castls.enable = true "+
		"(or store.casmetatls.enable for this keyspace's cluster only) ("+ce.Err.Error()+")")
}
