package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/store/cassandra/securetest"
)

// writeSplitConfig writes a server config whose metadata keyspace is on
// node one (the shared user) and whose bodies and cache are on node two,
// with node two's user, keyspaces named prefix_mbox, _msg and _cache;
// tlsTables, TOML tables of [store.*tls], follow.
func writeSplitConfig(t *testing.T, env securetest.Env, prefix, tlsTables string) string {
	t.Helper()
	cfg, _, _ := writeServerConfig(t, t.TempDir(), fmt.Sprintf(`dbtype = "cassandra"
casconnectpoints = [%q]
casusername = %q
caspassword = %q
casmsgconnectpoints = [%q]
casmsgusername = %q
casmsgpassword = %q
cascacheconnectpoints = [%q]
cascacheusername = %q
cascachepassword = %q
casmetakeyspace = "%[10]s_mbox"
casmsgkeyspace = "%[10]s_msg"
cascachekeyspace = "%[10]s_cache"
casreplicationstrategy = "SimpleStrategy"
casmetarf = 1
casmsgrf = 1
cascacherf = 1
casdurablewrites = false
%s`, env.One, securetest.OneUser, securetest.OnePassword,
		env.Two, securetest.TwoUser, securetest.TwoPassword,
		env.Two, securetest.TwoUser, securetest.TwoPassword,
		prefix, tlsTables))
	return cfg
}

// initAndUse runs init, adds a user, finds it in the list and runs config
// check, each of which must succeed.
func initAndUse(t *testing.T, cfg string) {
	t.Helper()
	if out, err := quire(t, "", "init", "--config", cfg); err != nil || !strings.Contains(out, "keyspaces and tables are in place") {
		t.Fatalf("init: %v\n%s", err, out)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	user := "sec" + hex.EncodeToString(r[:]) + "@example.org"
	if out, err := quire(t, "pw\n", "user", "add", user, "--password-stdin", "--config", cfg); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, _ := quire(t, "", "user", "list", "--config", cfg); !strings.Contains(out, user) {
		t.Fatalf("user list lacks %s:\n%s", user, out)
	}
	if out, err := quire(t, "", "config", "check", "--config", cfg); err != nil || strings.Contains(out, "could not ask") {
		t.Fatalf("config check: %v\n%s", err, out)
	}
}

// TestCassandraKeyspaceCredentials: the metadata keyspace in one cluster,
// bodies and cache in another with its own user, both over TLS with a
// client certificate, as an operator configures them: init and the user
// commands work; a wrong password of the bodies' cluster makes init fail
// and config check warn, naming the node and the keys to fix.
func TestCassandraKeyspaceCredentials(t *testing.T) {
	env := securetest.Nodes(t)
	cfg := writeSplitConfig(t, env, "quirecli", fmt.Sprintf(`[store.castls]
enable = true
cafile = %q
certfile = %q
keyfile = %q
verify = "full"
`, env.CAFile(), env.ClientCert(), env.ClientKey()))
	initAndUse(t, cfg)

	if out, err := quire(t, "", "config", "set", "store.casmsgpassword", "wrong", "--config", cfg); err != nil {
		t.Fatalf("config set: %v\n%s", err, out)
	}
	refused := "cassandra " + env.Two + `: authentication failed for user "quire_two": check store.casmsgusername and store.casmsgpassword ` +
		"(Provided username quire_two and/or password are incorrect)"
	if out, err := quire(t, "", "init", "--config", cfg); err == nil || !strings.Contains(err.Error(), refused) {
		t.Fatalf("init with a wrong store.casmsgpassword: %v, want %s\n%s", err, refused, out)
	}
	out, _ := quire(t, "", "config", "check", "--config", cfg)
	if want := cfg + ": warning: could not ask Cassandra at " + env.Two; !strings.Contains(out, want) || !strings.Contains(out, refused) {
		t.Fatalf("config check with a wrong store.casmsgpassword:\n%s\nwant a warning %q ... %q", out, want, refused)
	}
}

// TestCassandraKeyspaceTLS: no [store.castls]; each keyspace's cluster
// with TLS of its own ([store.casmetatls] verify "full" without a client
// certificate on node one; [store.casmsgtls] with the client certificate
// node two asks for, verify "ca"; [store.cascachetls] verify "none"):
// init, the user commands and config check work. The bodies' cafile set
// to a CA that signed nothing of the node's makes init fail naming the
// node and store.casmsgtls.cafile.
func TestCassandraKeyspaceTLS(t *testing.T) {
	env := securetest.Nodes(t)
	cfg := writeSplitConfig(t, env, "quiretlscli", fmt.Sprintf(`[store.casmetatls]
enable = true
cafile = %q
verify = "full"
[store.casmsgtls]
enable = true
cafile = %q
certfile = %q
keyfile = %q
verify = "ca"
[store.cascachetls]
enable = true
certfile = %q
keyfile = %q
verify = "none"
`, env.CAFile(), env.CAFile(), env.ClientCert(), env.ClientKey(), env.ClientCert(), env.ClientKey()))
	initAndUse(t, cfg)

	other, _, _ := writeCert(t, t.TempDir(), 7) // a CA of its own, which signed nothing of the nodes'
	if out, err := quire(t, "", "config", "set", "store.casmsgtls.cafile", other, "--config", cfg); err != nil {
		t.Fatalf("config set: %v\n%s", err, out)
	}
	want := "cassandra " + env.Two + ": TLS: the node's certificate is not signed by a CA in store.casmsgtls.cafile (" + other +
		"): set store.casmsgtls.cafile to the CA that signed the nodes' certificates"
	if out, err := quire(t, "", "init", "--config", cfg); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("init with another CA in store.casmsgtls.cafile: %v, want %s\n%s", err, want, out)
	}
}
