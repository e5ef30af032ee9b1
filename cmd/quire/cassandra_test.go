package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// cassandraAddr returns the test node, failing under make test when there
// is none and skipping in a developer's quick run.
func cassandraAddr(t *testing.T) string {
	t.Helper()
	return testService(t, "CASSANDRA", "scripts/cassandra.sh")
}

// testService is $QUIRE_TEST_<NAME>, the address of a node make test
// starts with script; without it the test fails when
// $QUIRE_REQUIRE_<NAME> is 1 (make test) and skips otherwise.
func testService(t *testing.T, name, script string) string {
	t.Helper()
	a := os.Getenv("QUIRE_TEST_" + name)
	if a == "" {
		if os.Getenv("QUIRE_REQUIRE_"+name) == "1" {
			t.Fatalf("QUIRE_TEST_%s is not set: make test starts a node with %s", name, script)
		}
		t.Skipf("QUIRE_TEST_%s not set", name)
	}
	return a
}

// TestCassandraCommands runs the admin commands and a server on the
// Cassandra backend: init, user add/list/quota/del, a delivery over LMTP
// and mailbox list, as an operator would.
func TestCassandraCommands(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	cfg, lmtpAddr := casConfig(t, addr)

	out, err := quire(t, "", "init", "--print", "--config", cfg)
	if err != nil || !strings.Contains(out, "CREATE KEYSPACE IF NOT EXISTS quiretest_mbox") || !strings.Contains(out, "SimpleStrategy") {
		t.Fatalf("init --print: %v\n%s", err, out)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	user := "cli" + hex.EncodeToString(r[:]) + "@example.org"
	if out, err := quire(t, "pw\n", "user", "add", user, "--password-stdin", "--config", cfg); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	if out, err := quire(t, "", "user", "quota", user, "--messages", "10", "--config", cfg); err != nil {
		t.Fatalf("user quota: %v\n%s", err, out)
	}
	if out, _ := quire(t, "", "user", "list", "--config", cfg); !strings.Contains(out, user) {
		t.Fatalf("user list lacks %s:\n%s", user, out)
	}

	bin := buildQuire(t)
	startServer(t, bin, cfg, lmtpAddr)
	tp := lmtpSession(t, lmtpAddr)
	if ok, err := deliver(tp, user, "Subject: on cassandra\r\n\r\nhello\r\n"); !ok || err != nil {
		t.Fatalf("delivery: %v %v", ok, err)
	}
	// A second process works on the same cluster while the server runs.
	cmd := exec.Command(bin, "mailbox", "list", user, "--config", cfg)
	list, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("mailbox list: %v\n%s", err, list)
	}
	found := false
	for _, l := range strings.Split(string(list), "\n") {
		if f := strings.Fields(l); len(f) > 3 && f[0] == "INBOX" {
			found = f[1] == "1" && f[2] == "1"
		}
	}
	if !found {
		t.Fatalf("INBOX should show 1 message, 1 unseen:\n%s", list)
	}
	if out, err := quire(t, "", "user", "del", user, "--config", cfg); err != nil {
		t.Fatalf("user del: %v\n%s", err, out)
	}
}

// casConfig writes a config for a server on the test node's shared test
// keyspaces, on free ports, and returns its path and LMTP address.
func casConfig(t *testing.T, addr string) (cfg, lmtpAddr string) {
	t.Helper()
	cfg, lmtpAddr, _ = writeServerConfig(t, t.TempDir(), casStoreKeys(addr))
	return cfg, lmtpAddr
}

// casStoreKeys are the [store] keys of a server on the test keyspaces.
func casStoreKeys(addr string) string {
	return fmt.Sprintf(`dbtype = "cassandra"
casconnectpoints = [%q]
casmetakeyspace = "quiretest_mbox"
casmsgkeyspace = "quiretest_msg"
cascachekeyspace = "quiretest_cache"
casreplicationstrategy = "SimpleStrategy"
casmetarf = 1
casmsgrf = 1
cascacherf = 1
casdurablewrites = false
`, addr)
}
