package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// LoginCheck reports a protocol that listens but where nobody can log in:
// without a certificate (tls.cert_file) there is neither STARTTLS nor an
// implicit-TLS port, and without allow_plaintext a plain connection
// refuses every login (IMAP advertises LOGINDISABLED, RFC 9051 6.2.3;
// POP3 answers -ERR). "quire config check" fails on it; Validate does not,
// so a host that only delivers (LMTP) or runs admin commands is unaffected.
func (c Config) LoginCheck() error {
	if c.TLS.CertFile != "" {
		return nil
	}
	var errs []error
	for _, p := range []struct {
		name      string
		listen    []string
		plaintext bool
	}{{"imap", c.IMAP.Listen, c.IMAP.AllowPlaintext}, {"pop3", c.POP3.Listen, c.POP3.AllowPlaintext}} {
		if len(p.listen) > 0 && !p.plaintext {
			errs = append(errs, fmt.Errorf("config: %s.listen = %s but nobody can log in: there is no tls.cert_file (no STARTTLS), and %s.allow_plaintext is false; "+
				"set tls.cert_file and tls.key_file (quire config set tls.cert_file /etc/quire/tls/fullchain.pem), "+
				"or allow plaintext on a trusted network, or set %s.listen = [] to turn %s off",
				p.name, literalOf(p.listen), p.name, p.name, strings.ToUpper(p.name)))
		}
	}
	return errors.Join(errs...)
}

// Warnings lists settings that are valid one by one but contradict each
// other or are likely mistakes, each naming its keys. What needs the
// cluster to see (replication factors against its nodes) is "quire config
// check"'s to add.
func (c Config) Warnings() []string {
	var w []string
	for _, p := range []struct {
		name      string
		listen    []string
		plaintext bool
	}{{"imap", c.IMAP.Listen, c.IMAP.AllowPlaintext}, {"pop3", c.POP3.Listen, c.POP3.AllowPlaintext}} {
		if !p.plaintext {
			continue
		}
		for _, a := range p.listen {
			if !loopback(a) {
				w = append(w, fmt.Sprintf("%s.allow_plaintext = true with %s.listen %q, which is not a loopback address: passwords cross the network in clear; "+
					"use STARTTLS or %s.tls_listen with tls.cert_file, or listen on 127.0.0.1 only", p.name, p.name, a, p.name))
			}
		}
	}
	groups := c.Store.StoreHostList
	if len(groups) > 0 {
		self := strings.ToLower(c.Server.Hostname)
		in := false
		for _, hosts := range groups {
			for _, h := range hosts {
				in = in || strings.ToLower(HostPart(h)) == self
			}
		}
		if !in {
			names := make([]string, 0, len(groups))
			for g := range groups {
				names = append(names, g)
			}
			slices.Sort(names)
			w = append(w, fmt.Sprintf("server.hostname %q is in no group of store.storehostlist (%s): no peer tells this host of changes "+
				"made elsewhere (IDLE sees them only at imap.recheck), and changes made here reach only the groups users name; "+
				"add it to its group (the lists name each host by its server.hostname)", c.Server.Hostname, strings.Join(names, ", ")))
		}
	}
	if len(c.Notify.Listen) > 0 && len(groups) == 0 {
		w = append(w, "notify.listen is set but store.storehostlist has no groups: the notifier has no peers; list the access hosts, or set notify.listen = []")
	}
	if c.Store.DBType == "cassandra" && c.Store.CasReplicationStrategy == "SimpleStrategy" {
		w = append(w, `store.casreplicationstrategy = "SimpleStrategy" ignores data centers and racks: use "NetworkTopologyStrategy" in production`)
	}
	return w
}

// literalOf writes a list as a TOML array, for messages.
func literalOf(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// loopback reports whether a listen address binds only loopback
// addresses (127.0.0.0/8, ::1, localhost); an empty host binds every one.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.SplitN(host, "%", 2)[0])
	return ip != nil && ip.IsLoopback()
}
