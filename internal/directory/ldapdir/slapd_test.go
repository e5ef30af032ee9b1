package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The tests run on the slapd of scripts/slapd.sh: QUIRE_TEST_LDAP is its
// ldap:// URL, QUIRE_TEST_LDAP_CA its CA certificate (for StartTLS).
// QUIRE_REQUIRE_LDAP=1 (make test) makes a missing server a failure. Each
// test adds its own subtree under ou=people and deletes it at the end.
const (
	suffix   = "dc=quire,dc=test"
	rootDN   = "cn=admin," + suffix
	rootPW   = "quire-test-admin"
	searchDN = "cn=quire," + suffix
	searchPW = "quire-search"
)

func slapdURL(t testing.TB) string {
	u := os.Getenv("QUIRE_TEST_LDAP")
	if u == "" {
		if os.Getenv("QUIRE_REQUIRE_LDAP") == "1" {
			t.Fatal("QUIRE_REQUIRE_LDAP=1 but QUIRE_TEST_LDAP (ldap://127.0.0.1:port of scripts/slapd.sh) is not set")
		}
		t.Skip("no slapd: run scripts/slapd.sh start and set QUIRE_TEST_LDAP")
	}
	return u
}

// fixture is a test's subtree: its users and the service administrators'
// group.
type fixture struct {
	url, base, adminGroup string
}

// person is an entry of the fixture.
type person struct {
	uid, mail, password string
	aliases             []string
	mailHost, status    string
	quota, messages     int64
}

func (p person) dn(base string) string { return "uid=" + p.uid + "," + base }

// newFixture makes ou=<test's name>,ou=people with people, and a group of
// service administrators holding admins (uids).
func newFixture(t testing.TB, people []person, admins ...string) fixture {
	t.Helper()
	url := slapdURL(t)
	c, err := ldap.DialURL(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	defer c.Close()
	if err := c.Bind(rootDN, rootPW); err != nil {
		t.Fatal(err)
	}
	ou := fmt.Sprintf("t%d", time.Now().UnixNano())
	f := fixture{url: url, base: "ou=" + ou + ",ou=people," + suffix}
	f.adminGroup = "cn=admins," + f.base
	add := func(dn string, attrs map[string][]string) {
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(f.base, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}})
	var dns []string
	for _, p := range people {
		a := map[string][]string{
			"objectClass": {"inetOrgPerson", "quireMailUser"},
			"uid":         {p.uid}, "cn": {p.uid}, "sn": {p.uid},
			"mail": {p.mail}, "userPassword": {p.password},
		}
		if len(p.aliases) > 0 {
			a["mailAlternateAddress"] = p.aliases
		}
		if p.mailHost != "" {
			a["mailHost"] = []string{p.mailHost}
		}
		if p.status != "" {
			a["mailUserStatus"] = []string{p.status}
		}
		if p.quota > 0 {
			a["mailQuota"] = []string{fmt.Sprint(p.quota)}
		}
		if p.messages > 0 {
			a["mailMessageQuota"] = []string{fmt.Sprint(p.messages)}
		}
		add(p.dn(f.base), a)
		dns = append(dns, p.dn(f.base))
	}
	members := []string{}
	for _, uid := range admins {
		members = append(members, "uid="+uid+","+f.base)
	}
	if len(members) > 0 {
		add(f.adminGroup, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"admins"}, "member": members})
		dns = append(dns, f.adminGroup)
	}
	t.Cleanup(func() {
		c, err := ldap.DialURL(url)
		if err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		defer c.Close()
		_ = c.Bind(rootDN, rootPW)
		for _, dn := range append(dns, f.base) {
			if err := c.Del(ldap.NewDelRequest(dn, nil)); err != nil {
				t.Errorf("cleanup: delete %s: %v", dn, err)
			}
		}
	})
	return f
}

// options are the Options of a Dir on f, with the attributes of
// scripts/slapd/quire.schema.
func (f fixture) options() Options {
	return Options{
		URLs: []string{f.url}, BindDN: searchDN, BindPassword: searchPW, BaseDN: f.base,
		Filter: DefaultFilter,
		Attrs: Attrs{Mail: "mail", Alias: "mailAlternateAddress", MailHost: "mailHost",
			QuotaStorage: "mailQuota", QuotaMessages: "mailMessageQuota", Status: "mailUserStatus"},
		ServiceAdminGroupDN: f.adminGroup,
		PoolSize:            2, ConnectTimeout: 2 * time.Second, Timeout: 5 * time.Second,
	}
}

func (f fixture) dir(t testing.TB, mod func(*Options)) *Dir {
	t.Helper()
	o := f.options()
	if mod != nil {
		mod(&o)
	}
	d, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

// caPool reads QUIRE_TEST_LDAP_CA.
func caPool(t *testing.T) *x509.CertPool {
	path := os.Getenv("QUIRE_TEST_LDAP_CA")
	if path == "" {
		if os.Getenv("QUIRE_REQUIRE_LDAP") == "1" {
			t.Fatal("QUIRE_REQUIRE_LDAP=1 but QUIRE_TEST_LDAP_CA (scripts/slapd.sh's ca.pem) is not set")
		}
		t.Skip("QUIRE_TEST_LDAP_CA not set")
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", path)
	}
	return p
}

func tlsWith(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type ldapConn = ldap.Conn

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
