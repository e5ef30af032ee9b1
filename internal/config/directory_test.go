package config

import (
	"strings"
	"testing"
)

// TestDirectoryValidation: an LDAP directory needs its server, base and
// filter; each problem names its key.
func TestDirectoryValidation(t *testing.T) {
	good := func() Config {
		c := Default()
		c.Directory.Type = "ldap"
		c.Directory.LDAP.URLs = []string{"ldap://127.0.0.1:389"}
		c.Directory.LDAP.BaseDN = "ou=people,dc=example,dc=org"
		c.Store.ServiceAdminGroupDN = "cn=admins,dc=example,dc=org"
		return c
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("a good LDAP directory: %v", err)
	}
	for _, tc := range []struct {
		key string
		mod func(*Config)
	}{
		{"directory.type", func(c *Config) { c.Directory.Type = "nis" }},
		{"directory.ldap.urls", func(c *Config) { c.Directory.LDAP.URLs = nil }},
		{"directory.ldap.urls", func(c *Config) { c.Directory.LDAP.URLs = []string{"http://x"} }},
		{"directory.ldap.starttls", func(c *Config) {
			c.Directory.LDAP.URLs, c.Directory.LDAP.StartTLS = []string{"ldaps://x"}, true
		}},
		{"directory.ldap.base_dn", func(c *Config) { c.Directory.LDAP.BaseDN = "" }},
		{"directory.ldap.filter", func(c *Config) { c.Directory.LDAP.Filter = "(mail=alice)" }},
		{"directory.ldap.attr_mail", func(c *Config) { c.Directory.LDAP.AttrMail = "" }},
		{"directory.ldap.bind_password", func(c *Config) { c.Directory.LDAP.BindPassword = "pw" }},
		{"directory.ldap.pool_size", func(c *Config) { c.Directory.LDAP.PoolSize = 0 }},
		{"directory.ldap.timeout", func(c *Config) { c.Directory.LDAP.Timeout = 0 }},
		{"directory.service_admins", func(c *Config) { c.Directory.ServiceAdmins = []string{"admin"} }},
		{"store.serviceadmingroupdn", func(c *Config) { c.Directory.Type = "store" }},
	} {
		c := good()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.key) {
			t.Errorf("%s: %v; want an error naming it", tc.key, err)
		}
		if err != nil && strings.Contains(err.Error(), `"pw"`) {
			t.Errorf("%s: the error shows the password: %v", tc.key, err)
		}
	}
}
