package config

import (
	"net/netip"
	"strings"
	"time"
)

// Proxy configures "quire proxy", the front end (DESIGN.md section 5): it
// listens where imap.listen, imap.tls_listen, pop3.listen, pop3.tls_listen
// and lmtp.listen say (with their limits and timeouts, [tls] and
// [login]), looks users up in [directory], and carries each session to the
// first live access host of the user's store affinity group
// (store.storehostlist), on the ports below.
type Proxy struct {
	// Login is how the proxy logs in at the access host: "user" passes
	// the client's own name and password on (the access host checks
	// them); "service_admin" checks the password itself against the
	// directory, then logs in as AdminUser with the user as SASL PLAIN
	// authorization identity, so the access hosts need not see users'
	// passwords (with LDAP, the proxy's bind verified them).
	Login         string `toml:"login"`
	AdminUser     string `toml:"admin_user"`
	AdminPassword string `toml:"admin_password" secret:"true"`
	// The access hosts' ports, the same on every host.
	IMAPPort int `toml:"imap_port"`
	POP3Port int `toml:"pop3_port"`
	LMTPPort int `toml:"lmtp_port"`
	// ConnectTimeout bounds a connection to an access host, its greeting
	// included; then the next host of the group is tried.
	ConnectTimeout Duration `toml:"connect_timeout"`
	// HostRetry is how long a host that failed is skipped (tried only when
	// every host of its group is skipped).
	HostRetry Duration `toml:"host_retry"`
	// DefaultGroup serves users whose mailHost is empty; "" refuses them
	// (temporarily: IMAP UNAVAILABLE, POP3 SYS/TEMP, LMTP 451).
	DefaultGroup string `toml:"default_group"`
	// RouteCacheTTL is how long, with Login "user", a user found in the
	// directory is routed without looking them up again (proxy.RouteCache;
	// the access host looks them up anyway); 0 asks every time. A changed
	// mailHost takes effect after it.
	RouteCacheTTL Duration `toml:"route_cache_ttl"`
	// HostTLS is TLS to the access hosts for IMAP and POP3, from the
	// first byte: imap_port and pop3_port are then the hosts'
	// imap.tls_listen and pop3.tls_listen ports. The keys are
	// store.castls's: verify "full" checks the CA and the host's name as
	// store.storehostlist writes it (a name, or an IP address, in the
	// certificate's subjectAltName), "ca" the CA only, "none" nothing
	// (encryption only). LMTP stays plain (the hosts' LMTP has no TLS).
	HostTLS CasTLS `toml:"host_tls"`
}

// DefaultProxy is the [proxy] table's defaults.
func DefaultProxy() Proxy {
	return Proxy{Login: "user", IMAPPort: 143, POP3Port: 110, LMTPPort: 24,
		ConnectTimeout: Duration(5 * time.Second), HostRetry: Duration(30 * time.Second), HostTLS: CasTLS{Verify: "full"},
		RouteCacheTTL: Duration(10 * time.Second)}
}

func (c Config) validateProxy(ck *checker) {
	p := c.Proxy
	ck.oneOf("proxy.login", p.Login, "user", "service_admin")
	if p.Login == "service_admin" {
		ck.require("proxy.admin_user", p.AdminUser, strings.Contains(p.AdminUser, "@"),
			`must be the address of a service administrator (directory.service_admins or store.serviceadmingroupdn) when proxy.login = "service_admin"`)
		ck.require("proxy.admin_password", "(hidden)", p.AdminPassword != "", `must be set when proxy.login = "service_admin"`)
	}
	for _, port := range []struct {
		key string
		v   int
	}{{"proxy.imap_port", p.IMAPPort}, {"proxy.pop3_port", p.POP3Port}, {"proxy.lmtp_port", p.LMTPPort}} {
		ck.require(port.key, port.v, port.v >= 1 && port.v <= 65535, "must be a port number from 1 to 65535")
	}
	atLeast(ck, "proxy.connect_timeout", p.ConnectTimeout, Duration(100*time.Millisecond))
	atLeast(ck, "proxy.host_retry", p.HostRetry, Duration(time.Second))
	clientTLS(ck, "proxy.host_tls", p.HostTLS)
	atLeast(ck, "proxy.route_cache_ttl", p.RouteCacheTTL, 0)
	ck.require("proxy.route_cache_ttl", p.RouteCacheTTL, p.RouteCacheTTL <= Duration(time.Hour), `must be at most "1h" (a changed mailHost waits for it)`)
	if g := p.DefaultGroup; g != "" {
		_, ok := c.Store.StoreHostList[g]
		ck.require("proxy.default_group", g, ok, "must name a group of store.storehostlist")
	}
	for _, s := range c.Server.TrustedProxies {
		_, errA := netip.ParseAddr(s)
		_, errP := netip.ParsePrefix(s)
		ck.require("server.trusted_proxies", c.Server.TrustedProxies, errA == nil || errP == nil,
			"each must be an IP address or a prefix such as 10.0.0.0/24, got "+s)
	}
	switch o := c.Login.OtherGroup; o {
	case "refer", "serve":
	case "proxy":
		ck.fail("login.other_group", o, `proxy-through is not built: use "refer" (IMAP LOGIN referrals, RFC 2221) with quire proxy or another front end in front of the access hosts, or "serve"`)
	default:
		ck.fail("login.other_group", o, `must be "refer" or "serve"`)
	}
}

// clientTLS checks a client TLS table (store.castls, proxy.host_tls)
// named key.
func clientTLS(ck *checker, key string, t CasTLS) {
	ck.oneOf(key+".verify", t.Verify, "full", "ca", "none")
	if (t.CertFile == "") != (t.KeyFile == "") {
		ck.fail(key+".keyfile", t.KeyFile, "%s.certfile and %s.keyfile must be set together", key, key)
	}
}
