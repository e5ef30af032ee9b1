package ldapdir

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
)

// ssha is the {SSHA} hash slapd verifies binds against.
func ssha(pw string) string {
	salt := []byte("NaCl4567")
	d := sha1.Sum(append([]byte(pw), salt...))
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(d[:], salt...))
}

var (
	alice = person{uid: "alice", mail: "Alice@Example.org", password: ssha("alice-pw"),
		aliases:  []string{"alice.smith@example.org", "ALS@example.net"},
		mailHost: "group-b", status: "active", quota: 5_000_000, messages: 1000}
	ops  = person{uid: "ops", mail: "ops@example.org", password: ssha("ops-pw")}
	sus  = person{uid: "sus", mail: "sus@example.org", password: ssha("sus-pw"), status: "suspended"}
	odd  = person{uid: "odd", mail: "odd@example.org", password: ssha("odd-pw"), status: "on-vacation", quota: 1}
	twin = person{uid: "twin", mail: "twin@example.org", password: ssha("x"), aliases: []string{"shared@example.org"}}
	pair = person{uid: "pair", mail: "pair@example.org", password: ssha("x"), aliases: []string{"shared@example.org"}}
)

// TestLookup: a user is found by address, by alias and by address with a
// +detail, with every mapped attribute; an unknown address is
// mail.ErrNoSuchUser.
func TestLookup(t *testing.T) {
	f := newFixture(t, []person{alice, ops, odd, twin, pair})
	d := f.dir(t, nil)
	ctx := ctxT(t)
	want := directory.Entry{
		Address: "alice@example.org", Aliases: []string{"alice.smith@example.org", "als@example.net"},
		MailHost: "group-b", QuotaStorage: 5_000_000, QuotaMessages: 1000, Status: directory.StatusActive,
		DN: alice.dn(f.base), External: true,
	}
	for _, addr := range []string{"alice@example.org", "ALICE@example.org", "alice+list@example.org", "alice.smith@example.org", "als@EXAMPLE.net"} {
		e, err := d.Lookup(ctx, addr)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", addr, err)
		}
		if !strings.HasPrefix(e.Credential, e.DN+"\x00") || len(e.Credential) <= len(e.DN)+2 {
			t.Errorf("Lookup(%s): credential %q lacks the entry's modification stamps", addr, e.Credential)
		}
		e.Credential = ""
		if !reflect.DeepEqual(e, want) {
			t.Errorf("Lookup(%s) =\n %+v\nwant\n %+v", addr, e, want)
		}
	}
	// An unknown status locks; a malformed quota is ignored.
	e, err := d.Lookup(ctx, "odd@example.org")
	if err != nil || e.Status != directory.StatusLocked || e.QuotaStorage != 1 {
		t.Errorf("odd: %+v %v; want locked with quota 1", e, err)
	}
	for _, addr := range []string{"nobody@example.org", "*@example.org", "alice@example.org)(mail=*", "not an address"} {
		if _, err := d.Lookup(ctx, addr); !errors.Is(err, mail.ErrNoSuchUser) {
			t.Errorf("Lookup(%q): %v; want ErrNoSuchUser", addr, err)
		}
	}
	// An alias two entries share is an error, never a guess.
	if _, err := d.Lookup(ctx, "shared@example.org"); !errors.Is(err, mail.ErrUnavailable) {
		t.Errorf("Lookup(shared): %v; want ErrUnavailable (two entries)", err)
	}
}

// TestBind: the right password binds; a wrong one and an empty one (an
// unauthenticated bind, which slapd accepts) do not.
func TestBind(t *testing.T) {
	f := newFixture(t, []person{alice})
	d := f.dir(t, nil)
	ctx := ctxT(t)
	e, err := d.Lookup(ctx, "alice.smith@example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		pw   string
		want bool
	}{{"alice-pw", true}, {"alice-pw ", false}, {"wrong", false}, {"", false}, {"alice-pw", true}} {
		ok, err := d.Bind(ctx, e, c.pw)
		if ok != c.want || err != nil {
			t.Errorf("Bind(%q) = %v, %v; want %v, nil", c.pw, ok, err, c.want)
		}
	}
	// The entry unknown users are checked against is refused like a wrong
	// password, not as an outage.
	for _, pw := range []string{"alice-pw", "x"} {
		if ok, err := d.Bind(ctx, d.MissingEntry(), pw); ok || err != nil {
			t.Errorf("Bind(MissingEntry, %q) = %v, %v; want false, nil", pw, ok, err)
		}
	}
	// The search connections stay the search account's: a lookup after
	// binds still reads (the bind account could not read alice's group
	// membership or others' entries under slapd's ACL either way, but a
	// search as alice would see her own entry only).
	if _, err := d.Lookup(ctx, "alice@example.org"); err != nil {
		t.Fatal(err)
	}
}

// TestServiceAdmin: members of the group are service administrators,
// others are not; no group configured means none.
func TestServiceAdmin(t *testing.T) {
	f := newFixture(t, []person{alice, ops}, "ops")
	ctx := ctxT(t)
	for _, c := range []struct {
		group string
		addr  string
		want  bool
	}{{f.adminGroup, "ops@example.org", true}, {f.adminGroup, "alice@example.org", false}, {"", "ops@example.org", false},
		{"cn=nosuchgroup," + f.base, "ops@example.org", false}} {
		d := f.dir(t, func(o *Options) { o.ServiceAdminGroupDN = c.group })
		e, err := d.Lookup(ctx, c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := d.ServiceAdmin(ctx, e); got != c.want || err != nil {
			t.Errorf("ServiceAdmin(%s) with group %q = %v, %v; want %v", c.addr, c.group, got, err, c.want)
		}
	}
}

// TestStartTLS: with StartTLS the directory works over TLS when the
// server's certificate verifies, and refuses to talk when it does not.
func TestStartTLS(t *testing.T) {
	f := newFixture(t, []person{alice})
	ctx := ctxT(t)
	d := f.dir(t, func(o *Options) { o.StartTLS, o.TLS = true, tlsWith(caPool(t)) })
	e, err := d.Lookup(ctx, "alice@example.org")
	if err != nil {
		t.Fatalf("Lookup over StartTLS: %v", err)
	}
	if ok, err := d.Bind(ctx, e, "alice-pw"); !ok || err != nil {
		t.Fatalf("Bind over StartTLS: %v %v", ok, err)
	}
	d.searches.do(ctx, func(c *ldapConn) error {
		if _, ok := c.TLSConnectionState(); !ok {
			t.Error("the search connection is not TLS")
		}
		return nil
	})
	untrusted := f.dir(t, func(o *Options) { o.StartTLS, o.TLS = true, tlsWith(nil) })
	if _, err := untrusted.Lookup(ctx, "alice@example.org"); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("Lookup with an untrusted certificate: %v; want ErrUnavailable", err)
	}
}

// TestLDAPS: an ldaps:// URL (TLS from the first byte) works as StartTLS
// does, and refuses a server whose certificate does not verify.
func TestLDAPS(t *testing.T) {
	f := newFixture(t, []person{alice})
	ldaps := os.Getenv("QUIRE_TEST_LDAPS")
	if ldaps == "" {
		t.Fatal("QUIRE_TEST_LDAPS is not set: scripts/slapd.sh env prints it with QUIRE_TEST_LDAP")
	}
	ctx := ctxT(t)
	d := f.dir(t, func(o *Options) { o.URLs, o.TLS = []string{ldaps}, tlsWith(caPool(t)) })
	e, err := d.Lookup(ctx, "alice@example.org")
	if err != nil {
		t.Fatalf("Lookup over ldaps: %v", err)
	}
	if ok, err := d.Bind(ctx, e, "alice-pw"); !ok || err != nil {
		t.Fatalf("Bind over ldaps: %v %v", ok, err)
	}
	d.binds.do(ctx, func(c *ldapConn) error {
		if _, ok := c.TLSConnectionState(); !ok {
			t.Error("the bind connection is not TLS")
		}
		return nil
	})
	untrusted := f.dir(t, func(o *Options) { o.URLs, o.TLS = []string{ldaps}, tlsWith(nil) })
	if _, err := untrusted.Lookup(ctx, "alice@example.org"); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("Lookup over ldaps with an untrusted certificate: %v; want ErrUnavailable", err)
	}
}

// TestServerDown: a server that does not answer makes lookups and binds
// ErrUnavailable, never a wrong password or an unknown user; the next URL
// of the list is tried. Check tells an outage from a refused search bind.
func TestServerDown(t *testing.T) {
	f := newFixture(t, []person{alice})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "ldap://" + ln.Addr().String()
	ln.Close()
	ctx := ctxT(t)
	d := f.dir(t, func(o *Options) { o.URLs = []string{dead} })
	if _, err := d.Lookup(ctx, "alice@example.org"); !errors.Is(err, mail.ErrUnavailable) {
		t.Errorf("Lookup on a dead server: %v; want ErrUnavailable", err)
	}
	if ok, err := d.Bind(ctx, directory.Entry{DN: alice.dn(f.base)}, "alice-pw"); ok || !errors.Is(err, mail.ErrUnavailable) {
		t.Errorf("Bind on a dead server: %v %v; want ErrUnavailable", ok, err)
	}
	if err := d.Check(ctx); !errors.Is(err, mail.ErrUnavailable) || errors.Is(err, ErrBindRefused) {
		t.Errorf("Check on a dead server: %v; want ErrUnavailable", err)
	}
	refused := f.dir(t, func(o *Options) { o.BindPassword = "wrong" })
	if err := refused.Check(ctx); !errors.Is(err, ErrBindRefused) || errors.Is(err, mail.ErrUnavailable) {
		t.Errorf("Check with a wrong bind_password: %v; want ErrBindRefused", err)
	}
	failover := f.dir(t, func(o *Options) { o.URLs = []string{dead, f.url} })
	if _, err := failover.Lookup(ctx, "alice@example.org"); err != nil {
		t.Errorf("Lookup with the second URL alive: %v", err)
	}
}

// TestPoolBound: requests beyond PoolSize wait for a connection, and give
// up as ErrUnavailable when their context ends first, or after Timeout.
func TestPoolBound(t *testing.T) {
	f := newFixture(t, []person{alice})
	d := f.dir(t, func(o *Options) { o.PoolSize, o.Timeout = 1, time.Second })
	hold := make(chan struct{})
	held := make(chan struct{})
	go d.searches.do(ctxT(t), func(*ldapConn) error { close(held); <-hold; return nil })
	<-held
	ctx, cancel := contextWithTimeout(100 * time.Millisecond)
	defer cancel()
	if _, err := d.Lookup(ctx, "alice@example.org"); !errors.Is(err, mail.ErrUnavailable) || !errors.Is(err, errPoolWait) {
		t.Errorf("Lookup with the pool full: %v; want ErrUnavailable (pool wait)", err)
	}
	t0 := time.Now()
	if _, err := d.Lookup(ctxT(t), "alice@example.org"); !errors.Is(err, errPoolWait) || time.Since(t0) < time.Second || time.Since(t0) > 10*time.Second {
		t.Errorf("Lookup with the pool full and a long context: %v after %v; want the pool wait after Timeout (1s)", err, time.Since(t0))
	}
	close(hold)
	if _, err := d.Lookup(ctxT(t), "alice@example.org"); err != nil {
		t.Errorf("Lookup once the pool is free: %v", err)
	}
}

// BenchmarkLookupBind: one LDAP login's directory work (a search and a
// bind as the user), on the pooled connections.
func BenchmarkLookupBind(b *testing.B) {
	f := newFixture(b, []person{alice})
	d := f.dir(b, nil)
	ctx := context.Background()
	for b.Loop() {
		e, err := d.Lookup(ctx, "alice.smith@example.org")
		if err != nil {
			b.Fatal(err)
		}
		if ok, err := d.Bind(ctx, e, "alice-pw"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
