package config

import (
	"net/url"
	"strings"
	"time"
)

// Directory selects where users are looked up and their passwords
// verified: "store" (the store's own users, made by "quire user add") or
// "ldap" (an LDAP server; a user new to the store gets their mailboxes at
// first login or delivery).
type Directory struct {
	Type string `toml:"type"` // store or ldap
	// ServiceAdmins are addresses of service administrators, who may open
	// any user's store with SASL PLAIN's authorization identity (migration,
	// support); LDAP adds the members of store.serviceadmingroupdn.
	ServiceAdmins []string `toml:"service_admins"`
	LDAP          LDAP     `toml:"ldap"`
}

// LDAP configures directory.type = "ldap".
type LDAP struct {
	URLs     []string `toml:"urls"`     // ldap:// or ldaps://, tried in order
	StartTLS bool     `toml:"starttls"` // on ldap:// URLs (RFC 4513 3)
	CAFile   string   `toml:"cafile"`   // PEM roots for TLS; empty uses the system's
	// BindDN and BindPassword are the account that searches; an empty
	// bind_dn searches anonymously.
	BindDN       string `toml:"bind_dn"`
	BindPassword string `toml:"bind_password" secret:"true"`
	BaseDN       string `toml:"base_dn"`
	// Filter finds a user; each %s is the canonical address, escaped
	// (RFC 4515 3).
	Filter string `toml:"filter"`
	// The attributes holding each field; an empty one leaves it out
	// (attr_mail is required).
	AttrMail         string   `toml:"attr_mail"`
	AttrAlias        string   `toml:"attr_alias"`
	AttrMailHost     string   `toml:"attr_mailhost"`
	AttrQuota        string   `toml:"attr_quota"`         // bytes
	AttrMessageQuota string   `toml:"attr_message_quota"` // messages
	AttrStatus       string   `toml:"attr_status"`        // active, suspended, locked
	PoolSize         int      `toml:"pool_size"`          // connections that search, and as many that bind
	ConnectTimeout   Duration `toml:"connect_timeout"`
	Timeout          Duration `toml:"timeout"` // per request; also the longest wait for a pooled connection
}

// DefaultDirectory is the [directory] table's defaults.
func DefaultDirectory() Directory {
	return Directory{
		Type: "store", ServiceAdmins: []string{},
		LDAP: LDAP{
			URLs: []string{}, Filter: "(|(mail=%s)(mailAlternateAddress=%s))",
			AttrMail: "mail", AttrAlias: "mailAlternateAddress", AttrMailHost: "mailHost",
			AttrQuota: "mailQuota", AttrMessageQuota: "mailMessageQuota", AttrStatus: "mailUserStatus",
			PoolSize: 8, ConnectTimeout: Duration(5 * time.Second), Timeout: Duration(10 * time.Second),
		},
	}
}

func (c Config) validateDirectory(ck *checker) {
	d := c.Directory
	ck.oneOf("directory.type", d.Type, "store", "ldap")
	for _, a := range d.ServiceAdmins {
		ck.require("directory.service_admins", d.ServiceAdmins, strings.Count(a, "@") >= 1 && !strings.ContainsAny(a, " \t\r\n<>"), "each must be an address, got "+a)
	}
	if d.Type != "ldap" {
		ck.require("store.serviceadmingroupdn", c.Store.ServiceAdminGroupDN, c.Store.ServiceAdminGroupDN == "", `applies only with directory.type = "ldap"`)
		return
	}
	l := d.LDAP
	ck.require("directory.ldap.urls", l.URLs, len(l.URLs) > 0, `must list at least one ldap:// or ldaps:// URL when directory.type is "ldap"`)
	for _, raw := range l.URLs {
		u, err := url.Parse(raw)
		ok := err == nil && (u.Scheme == "ldap" || u.Scheme == "ldaps") && u.Host != ""
		ck.require("directory.ldap.urls", l.URLs, ok, "each must be ldap://host[:port] or ldaps://host[:port], got "+raw)
		if ok && l.StartTLS && u.Scheme == "ldaps" {
			ck.fail("directory.ldap.starttls", l.StartTLS, "%s is already TLS: StartTLS applies to ldap:// URLs", raw)
		}
	}
	ck.require("directory.ldap.base_dn", l.BaseDN, strings.Contains(l.BaseDN, "="), "must be a DN such as ou=people,dc=example,dc=org")
	ck.require("directory.ldap.filter", l.Filter, strings.Contains(l.Filter, "%s") && strings.HasPrefix(l.Filter, "(") && strings.HasSuffix(l.Filter, ")"),
		"must be a parenthesized LDAP filter with %s for the address, e.g. (|(mail=%s)(mailAlternateAddress=%s))")
	ck.require("directory.ldap.attr_mail", l.AttrMail, l.AttrMail != "", "must name the attribute of the canonical address")
	ck.require("directory.ldap.bind_password", "", l.BindPassword == "" || l.BindDN != "", "needs directory.ldap.bind_dn")
	atLeast(ck, "directory.ldap.pool_size", l.PoolSize, 1)
	atLeast(ck, "directory.ldap.connect_timeout", l.ConnectTimeout, Duration(100*time.Millisecond))
	atLeast(ck, "directory.ldap.timeout", l.Timeout, Duration(time.Second))
	if g := c.Store.ServiceAdminGroupDN; g != "" {
		ck.require("store.serviceadmingroupdn", g, strings.Contains(g, "="), "must be a group's DN such as cn=admins,ou=groups,dc=example,dc=org")
	}
}
