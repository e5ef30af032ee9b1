package config

import (
	"strings"
	"testing"
	"time"
)

// TestProxyValidation: the [proxy] keys, server.trusted_proxies and
// login.other_group; each problem names its key, and proxy-through is
// refused by name rather than half built.
func TestProxyValidation(t *testing.T) {
	good := func() Config {
		c := Default()
		c.Store.DBType = "cassandra"
		c.Store.StoreHostList = map[string][]string{"east": {"a1", "a2"}, "west": {"b1"}}
		c.Proxy.DefaultGroup = "east"
		c.Server.TrustedProxies = []string{"10.0.0.5", "10.0.1.0/24", "::1"}
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("a good proxy configuration: %v", err)
	}
	admin := good()
	admin.Proxy.Login, admin.Proxy.AdminUser, admin.Proxy.AdminPassword = "service_admin", "proxy@example.org", "pw"
	if err := admin.Validate(); err != nil {
		t.Fatalf("a good service_admin proxy: %v", err)
	}
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Proxy.Login = "sasl" }, `config: proxy.login = "sasl": must be "user" or "service_admin"`},
		{func(c *Config) { c.Proxy.Login = "service_admin" }, `config: proxy.admin_user = "": must be the address of a service administrator`},
		{func(c *Config) { c.Proxy.Login, c.Proxy.AdminUser = "service_admin", "a@b" }, `config: proxy.admin_password = "(hidden)": must be set when proxy.login = "service_admin"`},
		{func(c *Config) { c.Proxy.IMAPPort = 0 }, `config: proxy.imap_port = 0: must be a port number from 1 to 65535`},
		{func(c *Config) { c.Proxy.LMTPPort = 70000 }, `config: proxy.lmtp_port = 70000: must be a port number from 1 to 65535`},
		{func(c *Config) { c.Proxy.HostRetry = 0 }, `config: proxy.host_retry = "0s": must be at least "1s"`},
		{func(c *Config) { c.Proxy.DefaultGroup = "north" }, `config: proxy.default_group = "north": must name a group of store.storehostlist`},
		{func(c *Config) { c.Server.TrustedProxies = []string{"proxy1"} }, `config: server.trusted_proxies = ["proxy1"]: each must be an IP address or a prefix such as 10.0.0.0/24, got proxy1`},
		{func(c *Config) { c.Login.OtherGroup = "proxy" }, `config: login.other_group = "proxy": proxy-through is not built: use "refer"`},
		{func(c *Config) { c.Login.OtherGroup = "ignore" }, `config: login.other_group = "ignore": must be "refer" or "serve"`},
		{func(c *Config) { c.Proxy.RouteCacheTTL = Duration(-time.Second) }, `config: proxy.route_cache_ttl = "-1s": must be at least "0s"`},
		{func(c *Config) { c.Proxy.RouteCacheTTL = Duration(2 * time.Hour) }, `config: proxy.route_cache_ttl = "2h": must be at most "1h"`},
		{func(c *Config) { c.Proxy.HostTLS.Verify = "host" }, `config: proxy.host_tls.verify = "host": must be one of "full", "ca" or "none"`},
		{func(c *Config) { c.Proxy.HostTLS.CertFile = "/c.pem" }, `config: proxy.host_tls.keyfile = "": proxy.host_tls.certfile and proxy.host_tls.keyfile must be set together`},
	} {
		c := good()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
}
