package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/quiremail/quire/internal/store/cassandra"
)

// TestExampleConfigsLogIn is issue 19's item 5: each production example
// passes config check as shipped, and, with its placeholders filled in by
// config set (a generated certificate, loopback ports, a scratch data
// directory, or the test Cassandra, OpenSearch and slapd), starts and lets a user log in over
// STARTTLS and implicit TLS. Before, both examples passed config check yet
// let nobody log in: no [tls], no allow_plaintext (LOGINDISABLED).
func TestExampleConfigsLogIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	t.Run("all-in-one", func(t *testing.T) {
		dir := t.TempDir()
		cfg := shippedExample(t, "all-in-one.toml", dir)
		certFile, keyFile, roots := writeCert(t, dir, 1)
		imap, imaps, lmtp := freePort(t), freePort(t), freePort(t)
		setAll(t, cfg, [][2]string{
			{"tls.cert_file", certFile}, {"tls.key_file", keyFile},
			{"imap.listen", imap}, {"imap.tls_listen", imaps}, {"lmtp.listen", lmtp}, {"http.listen", freePort(t)},
			{"store.datadir", filepath.Join(dir, "data")}, {"server.shutdown_grace", "1s"}, {"log.level", "warn"},
		})
		if out, err := quire(t, "", "config", "check", "--config", cfg); err != nil || out != cfg+": ok\n" {
			t.Fatalf("config check of the filled-in example: %v\n%s", err, out)
		}
		srv := startServer(t, bin, cfg, lmtp)
		user := addExampleUser(t, bin, cfg)
		imapLogin(t, imap, false, roots, user)
		imapLogin(t, imaps, true, roots, user)

		// A renewed certificate and SIGHUP: the next handshake has it.
		_, _, roots2 := writeCert(t, dir, 2)
		if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for peerSerial(t, imaps, nil) != 2 { // either may answer until the swap; roots2 is checked below
			if time.Now().After(deadline) {
				t.Fatal("after SIGHUP the server still offers the old certificate")
			}
			time.Sleep(50 * time.Millisecond)
		}
		imapLogin(t, imaps, true, roots2, user)
	})
	t.Run("access-host", func(t *testing.T) {
		addr, search, ldapAddr := cassandraAddr(t), opensearchURL(t), ldapURL(t)
		dir := t.TempDir()
		cfg := shippedExample(t, "access-host.toml", dir)
		certFile, keyFile, roots := writeCert(t, dir, 1)
		o := cassandra.DefaultOptions()
		o.Logger = slog.New(slog.DiscardHandler)
		nodes, err := cassandra.Nodes(context.Background(), o, cassandra.KeyspaceOptions{ConnectPoints: []string{addr}})
		if err != nil {
			t.Fatal(err)
		}
		var dc string
		for d := range nodes {
			dc = d
		}
		imap, imaps, pop3s, lmtp := freePort(t), freePort(t), freePort(t), freePort(t)
		setAll(t, cfg, [][2]string{
			{"tls.cert_file", certFile}, {"tls.key_file", keyFile},
			{"imap.listen", imap}, {"imap.tls_listen", imaps}, {"pop3.listen", freePort(t)}, {"pop3.tls_listen", pop3s},
			{"lmtp.listen", lmtp}, {"http.listen", freePort(t)}, {"http.admin_token_file", filepath.Join(dir, "admin.token")},
			{"notify.listen", ""}, {"isc.hosts", ""}, {"isc.engine_cache", ""},
			{"store.casconnectpoints", addr}, {"store.casmsgconnectpoints", ""}, {"store.casusername", ""}, {"store.caspassword", ""},
			{"store.casmetakeyspace", "quireexample_mbox"}, {"store.casmsgkeyspace", "quireexample_msg"}, {"store.cascachekeyspace", "quireexample_cache"},
			{"store.casmetadc", dc}, {"store.casmsgdc", dc}, {"store.cascachedc", dc},
			{"store.casmetarf", "1"}, {"store.casmsgrf", "1"},
			{"search.url", search}, {"search.index", "quire-example-test"}, {"search.shards", "1"}, {"search.replicas", "0"},
			{"directory.ldap.urls", ldapAddr}, {"directory.ldap.cafile", os.Getenv("QUIRE_TEST_LDAP_CA")},
			{"directory.ldap.bind_dn", "cn=quire,dc=quire,dc=test"}, {"directory.ldap.bind_password", "quire-search"},
			{"directory.ldap.base_dn", "ou=people,dc=quire,dc=test"},
			{"server.shutdown_grace", "1s"}, {"log.level", "warn"},
		})
		// Online, config check compares the replication factors with the
		// test cluster's nodes.
		if out, err := quire(t, "", "config", "check", "--config", cfg); err != nil || out != cfg+": ok\n" {
			t.Fatalf("config check of the filled-in example: %v\n%s", err, out)
		}
		setAll(t, cfg, [][2]string{{"store.casmetarf", "3"}})
		out, err := quire(t, "", "config", "check", "--config", cfg)
		want := cfg + ": warning: store.casmetarf = 3 but data center \"" + dc + "\" of the cluster at " + addr + " has " +
			strconv.Itoa(nodes[dc]) + " node(s): writes at LOCAL_QUORUM fail; lower store.casmetarf or add nodes\n" + cfg + ": ok, with 1 warning(s)\n"
		if nodes[dc] < 3 && (err != nil || out != want) {
			t.Fatalf("config check with RF 3 on the test cluster: %v\n%s\nwant\n%s", err, out, want)
		}
		setAll(t, cfg, [][2]string{{"store.casmetarf", "1"}})
		startServer(t, bin, cfg, lmtp)
		user := addLDAPUser(t, ldapAddr, "east") // the example's directory is LDAP
		imapLogin(t, imap, false, roots, user)
		imapLogin(t, imaps, true, roots, user)
		pop3Login(t, pop3s, roots, user)
	})
}

// shippedExample checks examples/name as shipped with config check, and
// copies it to dir for the test to fill in.
func shippedExample(t *testing.T, name, dir string) string {
	t.Helper()
	src := filepath.Join("..", "..", "examples", name)
	out, err := quire(t, "", "config", "check", "--offline", "--config", src)
	want := src + ": warning: tls.cert_file and tls.key_file: open /etc/quire/tls/fullchain.pem: no such file or directory: " +
		"serve does not start until they can be read (put the certificate's paths there)\n" + src + ": ok, with 1 warning(s)\n"
	if err != nil || out != want {
		t.Fatalf("config check of the shipped %s: %v\n%s\nwant\n%s", name, err, out, want)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, name)
	if err := os.WriteFile(cfg, data, 0o640); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// setAll runs config set for each key and value.
func setAll(t *testing.T, cfg string, kv [][2]string) {
	t.Helper()
	for _, p := range kv {
		if out, err := quire(t, "", "config", "set", p[0], p[1], "--config", cfg); err != nil {
			t.Fatalf("config set %s %q: %v\n%s", p[0], p[1], err, out)
		}
	}
}

func addExampleUser(t *testing.T, bin, cfg string) [2]string {
	t.Helper()
	var r [6]byte
	_, _ = rand.Read(r[:])
	user := [2]string{"ex" + hex.EncodeToString(r[:]) + "@example.org", "pw-" + hex.EncodeToString(r[:3])}
	cmd := exec.Command(bin, "user", "add", user[0], "--password-stdin", "--config", cfg)
	cmd.Stdin = strings.NewReader(user[1] + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	return user
}

// addLDAPUser adds a user with a random address and password to
// scripts/slapd.sh's directory, removed when the test ends.
func addLDAPUser(t *testing.T, url, mailHost string) [2]string {
	t.Helper()
	c, err := ldap.DialURL(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind("cn=admin,dc=quire,dc=test", "quire-test-admin"); err != nil {
		t.Fatal(err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	uid := "ex" + hex.EncodeToString(r[:])
	user := [2]string{uid + "@example.org", "pw-" + hex.EncodeToString(r[:3])}
	dn := "uid=" + uid + ",ou=people,dc=quire,dc=test"
	req := ldap.NewAddRequest(dn, nil)
	for k, v := range map[string][]string{"objectClass": {"inetOrgPerson", "quireMailUser"}, "uid": {uid}, "cn": {uid}, "sn": {uid},
		"mail": {user[0]}, "mailHost": {mailHost}, "userPassword": {user[1]}} {
		req.Attribute(k, v)
	}
	if err := c.Add(req); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Del(ldap.NewDelRequest(dn, nil)) })
	return user
}

// imapLogin logs in over implicit TLS, or over STARTTLS after checking
// that the plain connection refuses a login (LOGINDISABLED, RFC 9051
// 6.2.3) and offers STARTTLS.
func imapLogin(t *testing.T, addr string, implicit bool, roots *x509.CertPool, user [2]string) {
	t.Helper()
	tc := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	var nc net.Conn
	var err error
	if implicit {
		nc, err = tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	} else {
		nc, err = net.DialTimeout("tcp", addr, 5*time.Second)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer func() { nc.Close() }()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(nc)
	cmd := func(tag, line string) (status string, untagged []string) {
		t.Helper()
		if line != "" {
			if _, err := nc.Write([]byte(tag + " " + line + "\r\n")); err != nil {
				t.Fatal(err)
			}
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("%s %s: %v", tag, line, err)
			}
			l = strings.TrimRight(l, "\r\n")
			if strings.HasPrefix(l, tag+" ") {
				return strings.TrimPrefix(l, tag+" "), untagged
			}
			untagged = append(untagged, l)
		}
	}
	if greet, _ := br.ReadString('\n'); !strings.HasPrefix(greet, "* OK") {
		t.Fatalf("greeting %q", greet)
	}
	if !implicit {
		st, un := cmd("a1", "CAPABILITY")
		caps := capabilities(un)
		if !strings.HasPrefix(st, "OK") || !slices.Contains(caps, "STARTTLS") || !slices.Contains(caps, "LOGINDISABLED") {
			t.Fatalf("CAPABILITY on the plain port: %s %q, want STARTTLS and LOGINDISABLED", st, caps)
		}
		if st, _ := cmd("a2", "STARTTLS"); !strings.HasPrefix(st, "OK") {
			t.Fatalf("STARTTLS: %s", st)
		}
		tlsConn := tls.Client(nc, tc)
		if err := tlsConn.Handshake(); err != nil {
			t.Fatalf("STARTTLS handshake: %v", err)
		}
		nc, br = tlsConn, bufio.NewReader(tlsConn)
	}
	st, un := cmd("a3", "CAPABILITY")
	if caps := capabilities(un); !strings.HasPrefix(st, "OK") || slices.Contains(caps, "LOGINDISABLED") || !slices.Contains(caps, "AUTH=PLAIN") {
		t.Fatalf("CAPABILITY under TLS: %s %q, want AUTH=PLAIN and no LOGINDISABLED", st, caps)
	}
	if st, _ := cmd("a4", "LOGIN "+user[0]+" "+user[1]); !strings.HasPrefix(st, "OK") {
		t.Fatalf("LOGIN under TLS: %s", st)
	}
	if st, _ := cmd("a5", "SELECT INBOX"); !strings.HasPrefix(st, "OK") {
		t.Fatalf("SELECT INBOX: %s", st)
	}
	cmd("a6", "LOGOUT")
}

// capabilities parses the atoms of a "* CAPABILITY" line.
func capabilities(untagged []string) []string {
	for _, l := range untagged {
		if rest, ok := strings.CutPrefix(l, "* CAPABILITY "); ok {
			return strings.Fields(rest)
		}
	}
	return nil
}

// pop3Login logs in with USER and PASS over implicit TLS (RFC 8314).
func pop3Login(t *testing.T, addr string, roots *x509.CertPool, user [2]string) {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(nc)
	for _, line := range []string{"", "USER " + user[0], "PASS " + user[1], "STAT", "QUIT"} {
		if line != "" {
			_, _ = nc.Write([]byte(line + "\r\n"))
		}
		l, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "+OK") {
			t.Fatalf("POP3 %q: %q %v", line, l, err)
		}
	}
}
