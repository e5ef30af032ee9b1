package main

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/quiremail/quire/internal/testkit"
)

// TestProxyLDAP: the tier with the directory in a real slapd. Two groups,
// one embedded access host each, and a proxy, all reading users from
// LDAP: each user's mailHost attribute routes their delivery and their
// logins (also by alias) to their group's host, where their store is
// made on first use; a wrong password is refused by the proxy; a login
// at the other group's host gets the referral to the right one.
func TestProxyLDAP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three servers")
	}
	url := ldapURL(t)
	bin := buildQuire(t)
	c, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind("cn=admin,dc=quire,dc=test", "quire-test-admin"); err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	users := map[string]string{"east": "lpe" + stamp, "west": "lpw" + stamp} // group -> uid
	for group, uid := range users {
		dn := "uid=" + uid + ",ou=people,dc=quire,dc=test"
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range map[string][]string{"objectClass": {"inetOrgPerson", "quireMailUser"}, "uid": {uid}, "cn": {uid}, "sn": {uid},
			"mail": {uid + "@example.org"}, "mailAlternateAddress": {uid + ".alias@example.org"}, "mailHost": {group}, "userPassword": {"pw-" + uid}} {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Del(ldap.NewDelRequest(dn, nil)) })
	}
	directory := fmt.Sprintf("[directory]\ntype = \"ldap\"\n[directory.ldap]\nurls = [%q]\nbind_dn = \"cn=quire,dc=quire,dc=test\"\n"+
		"bind_password = \"quire-search\"\nbase_dn = \"ou=people,dc=quire,dc=test\"\nconnect_timeout = \"2s\"\ntimeout = \"5s\"\n", url)

	ips := map[string]string{"east": "127.0.0.2", "west": "127.0.0.4"}
	ports := testkit.CommonPorts(t, 3, ips["east"], ips["west"])
	port := func(ip string, i int) string { return net.JoinHostPort(ip, strconv.Itoa(ports[i])) }
	groups := fmt.Sprintf("[store.storehostlist]\neast = [%q]\nwest = [%q]\n", ips["east"], ips["west"])
	for _, group := range []string{"east", "west"} {
		ip := ips[group]
		cfg := writeTierConfig(t, fmt.Sprintf(`[server]
hostname = %q
trusted_proxies = ["127.0.0.1"]
[log]
level = "warn"
[store]
dbtype = "embedded"
datadir = %q
%s
%s
[imap]
listen = [%q]
allow_plaintext = true
[pop3]
listen = [%q]
allow_plaintext = true
[lmtp]
listen = [%q]
[http]
listen = []
`, ip, filepath.Join(t.TempDir(), "data"), groups, directory, port(ip, 0), port(ip, 1), port(ip, 2)))
		if out, err := exec.Command(bin, "init", "--config", cfg).CombinedOutput(); err != nil {
			t.Fatalf("init %s: %v\n%s", group, err, out)
		}
		startUntil(t, exec.Command(bin, "serve", "--config", cfg), "create a user")
	}
	pIMAP, pPOP3, pLMTP := freePort(t), freePort(t), freePort(t)
	proxyCfg := writeTierConfig(t, fmt.Sprintf(`[server]
hostname = "proxy.test"
[log]
level = "warn"
[store]
%s
%s
[proxy]
imap_port = %d
pop3_port = %d
lmtp_port = %d
connect_timeout = "1s"
[imap]
listen = [%q]
allow_plaintext = true
[pop3]
listen = [%q]
allow_plaintext = true
[lmtp]
listen = [%q]
[http]
listen = []
`, groups, directory, ports[0], ports[1], ports[2], pIMAP, pPOP3, pLMTP))
	startUntil(t, exec.Command(bin, "proxy", "--config", proxyCfg), "quire: proxy ready")

	east, west := users["east"]+"@example.org", users["west"]+"@example.org"
	westAlias := users["west"] + ".alias@example.org"
	// One transaction, one recipient of each group, the west one by alias.
	replies := lmtpTransaction(t, lmtpSession(t, pLMTP), []string{westAlias, east}, "Subject: routed by LDAP\r\n\r\nhello\r\n")
	want := []string{"250 2.1.5 <" + westAlias + "> ok", "250 2.1.5 <" + east + "> ok",
		"250 2.0.0 <" + westAlias + "> delivered", "250 2.0.0 <" + east + "> delivered"}
	if strings.Join(replies, "\n") != strings.Join(want, "\n") {
		t.Fatalf("LMTP replies through the proxy:\n%s\nwant:\n%s", strings.Join(replies, "\n"), strings.Join(want, "\n"))
	}
	// Each user's message is on their own group's host only: each host
	// has its own embedded store.
	status := func(addr, user, pass string) string {
		s := textConn(t, addr)
		s.line()
		s.send("a LOGIN " + user + " " + pass)
		if l := s.until("a "); !strings.HasPrefix(l, "a OK") {
			return l
		}
		s.send("b STATUS INBOX (MESSAGES)")
		return s.until("* STATUS")
	}
	for _, tc := range []struct{ addr, user, pass, want string }{
		{pIMAP, east, "pw-" + users["east"], "* STATUS INBOX (MESSAGES 1)"},
		{pIMAP, westAlias, "pw-" + users["west"], "* STATUS INBOX (MESSAGES 1)"}, // by alias, to west
		{pIMAP, west, "wrong", "a NO [AUTHENTICATIONFAILED] Authentication failed"},
		{port(ips["west"], 0), east, "pw-" + users["east"], "a NO [REFERRAL imap://" + strings.Replace(east, "@", "%40", 1) + "@127.0.0.2/] This account is served by store affinity group east; try 127.0.0.2"},
	} {
		if got := status(tc.addr, tc.user, tc.pass); got != tc.want {
			t.Errorf("%s at %s: %q, want %q", tc.user, tc.addr, got, tc.want)
		}
	}
}
