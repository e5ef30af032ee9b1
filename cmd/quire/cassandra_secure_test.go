package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/store/cassandra/securetest"
)

// TestCassandraKeyspaceCredentials: the metadata keyspace in one cluster,
// bodies and cache in another with its own user, both over TLS with a
// client certificate, as an operator configures them: init and the user
// commands work; a wrong password of the bodies' cluster makes init fail
// and config check warn, naming the node and the keys to fix.
func TestCassandraKeyspaceCredentials(t *testing.T) {
	env := securetest.Nodes(t)
	dir := t.TempDir()
	cfg, _, _ := writeServerConfig(t, dir, fmt.Sprintf(`dbtype = "cassandra"
casconnectpoints = [%q]
casusername = %q
caspassword = %q
casmsgconnectpoints = [%q]
casmsgusername = %q
casmsgpassword = %q
cascacheconnectpoints = [%q]
cascacheusername = %q
cascachepassword = %q
casmetakeyspace = "quirecli_mbox"
casmsgkeyspace = "quirecli_msg"
cascachekeyspace = "quirecli_cache"
casreplicationstrategy = "SimpleStrategy"
casmetarf = 1
casmsgrf = 1
cascacherf = 1
casdurablewrites = false
[store.castls]
enable = true
cafile = %q
certfile = %q
keyfile = %q
verify = "full"
`, env.One, securetest.OneUser, securetest.OnePassword,
		env.Two, securetest.TwoUser, securetest.TwoPassword,
		env.Two, securetest.TwoUser, securetest.TwoPassword,
		env.CAFile(), env.ClientCert(), env.ClientKey()))

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
