package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// ldapURL is scripts/slapd.sh's server (QUIRE_TEST_LDAP); a missing one
// fails the test under QUIRE_REQUIRE_LDAP=1 (make test).
func ldapURL(t *testing.T) string {
	u := os.Getenv("QUIRE_TEST_LDAP")
	if u == "" {
		if os.Getenv("QUIRE_REQUIRE_LDAP") == "1" {
			t.Fatal("QUIRE_REQUIRE_LDAP=1 but QUIRE_TEST_LDAP (ldap://127.0.0.1:port of scripts/slapd.sh) is not set")
		}
		t.Skip("no slapd: run scripts/slapd.sh start and set QUIRE_TEST_LDAP")
	}
	return u
}

// ldapConfig writes a server config on an embedded store with the LDAP
// directory of scripts/slapd.sh, searching as bindPassword's account.
func ldapConfig(t *testing.T, url, bindPassword string) (cfg, lmtpAddr string) {
	dir := t.TempDir()
	cfg, lmtpAddr, _ = writeConfig(t, dir)
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "[directory]\ntype = \"ldap\"\n[directory.ldap]\nurls = [%q]\nbind_dn = \"cn=quire,dc=quire,dc=test\"\n"+
		"bind_password = %q\nbase_dn = \"ou=people,dc=quire,dc=test\"\nconnect_timeout = \"2s\"\ntimeout = \"5s\"\n", url, bindPassword)
	return cfg, lmtpAddr
}

// TestServeLDAPDirectory: serve reads [directory.ldap]: a delivery to an
// LDAP user's alias, new to the store, creates the user's store, on the
// mailHost LDAP names; a wrong bind_password stops serve at start, an
// unreachable server does not (deliveries are deferred with 451).
func TestServeLDAPDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	url := ldapURL(t)
	c, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("cn=admin,dc=quire,dc=test", "quire-test-admin"); err != nil {
		t.Fatal(err)
	}
	uid := fmt.Sprintf("serve%d", time.Now().UnixNano())
	dn := "uid=" + uid + ",ou=people,dc=quire,dc=test"
	r := ldap.NewAddRequest(dn, nil)
	for k, v := range map[string][]string{"objectClass": {"inetOrgPerson", "quireMailUser"}, "uid": {uid}, "cn": {uid}, "sn": {uid},
		"mail": {uid + "@example.org"}, "mailAlternateAddress": {uid + ".alias@example.org"}, "mailHost": {"group-x"}, "userPassword": {"pw"}} {
		r.Attribute(k, v)
	}
	if err := c.Add(r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Del(ldap.NewDelRequest(dn, nil)) })

	bin := buildQuire(t)
	cfg, lmtpAddr := ldapConfig(t, url, "quire-search")
	startServer(t, bin, cfg, lmtpAddr)
	if ok, err := deliver(lmtpSession(t, lmtpAddr), strings.ToUpper(uid)+".alias+x@example.org", "Subject: hi\r\n\r\nhello\r\n"); !ok || err != nil {
		t.Fatalf("delivery to the alias: %v %v", ok, err)
	}
	out, err := exec.Command(bin, "user", "list", "--config", cfg).CombinedOutput()
	var line []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == uid+"@example.org" {
			line = f
		}
	}
	if err != nil || len(line) == 0 || line[len(line)-1] != "group-x" {
		t.Fatalf("quire user list after the first delivery: %v; want %s@example.org on group-x\n%s", err, uid, out)
	}
	out, err = exec.Command(bin, "mailbox", "list", uid+"@example.org", "--config", cfg).CombinedOutput()
	var inbox []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "INBOX" {
			inbox = f
		}
	}
	if err != nil || len(inbox) < 3 || inbox[1] != "1" {
		t.Fatalf("mailbox list: %v; want INBOX with 1 message\n%s", err, out)
	}

	bad, _ := ldapConfig(t, url, "wrong")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err = exec.CommandContext(ctx, bin, "serve", "--config", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "directory.ldap") || !strings.Contains(string(out), "Invalid Credentials") {
		t.Fatalf("serve with a wrong bind_password: %v\n%s", err, out)
	}

	down, downLMTP := ldapConfig(t, "ldap://"+freePort(t), "quire-search")
	startServer(t, bin, down, downLMTP)
	tp := lmtpSession(t, downLMTP)
	if err := tp.PrintfLine("MAIL FROM:<a@example.net>"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tp.ReadResponse(250); err != nil {
		t.Fatal(err)
	}
	if err := tp.PrintfLine("RCPT TO:<%s@example.org>", uid); err != nil {
		t.Fatal(err)
	}
	if code, msg, err := tp.ReadResponse(451); err != nil {
		t.Fatalf("RCPT with the directory down: %d %s %v; want 451", code, msg, err)
	}
}
