package config

import (
	"slices"
	"testing"
)

func TestLoginCheck(t *testing.T) {
	c := Default()
	c.IMAP.Listen, c.POP3.Listen = []string{"0.0.0.0:143"}, []string{}
	err := c.LoginCheck()
	want := `config: imap.listen = ["0.0.0.0:143"] but nobody can log in: there is no tls.cert_file (no STARTTLS), and imap.allow_plaintext is false; ` +
		`set tls.cert_file and tls.key_file (quire config set tls.cert_file /etc/quire/tls/fullchain.pem), or allow plaintext on a trusted network, or set imap.listen = [] to turn IMAP off`
	if err == nil || err.Error() != want {
		t.Fatalf("LoginCheck = %v\nwant %s", err, want)
	}
	ok := []func(*Config){
		func(c *Config) { c.TLS.CertFile, c.TLS.KeyFile = "/c.pem", "/k.pem" },
		func(c *Config) { c.IMAP.AllowPlaintext = true },
		func(c *Config) { c.IMAP.Listen = nil },
	}
	for i, f := range ok {
		d := c
		f(&d)
		if err := d.LoginCheck(); err != nil {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func TestWarnings(t *testing.T) {
	c := Default()
	c.Server.Hostname = "a9.example.org"
	c.Store.DBType = "cassandra"
	c.Store.CasReplicationStrategy = "SimpleStrategy"
	c.Store.StoreHostList = map[string][]string{"west": {"a2.example.org"}, "east": {"a1.example.org:4790"}}
	c.IMAP.AllowPlaintext, c.IMAP.Listen = true, []string{"127.0.0.1:143", "[::1]:143", "localhost:1143", ":143", "10.0.0.1:143"}
	c.POP3.AllowPlaintext, c.POP3.Listen = true, []string{"127.0.0.2:110"}
	want := []string{
		`imap.allow_plaintext = true with imap.listen ":143", which is not a loopback address: passwords cross the network in clear; use STARTTLS or imap.tls_listen with tls.cert_file, or listen on 127.0.0.1 only`,
		`imap.allow_plaintext = true with imap.listen "10.0.0.1:143", which is not a loopback address: passwords cross the network in clear; use STARTTLS or imap.tls_listen with tls.cert_file, or listen on 127.0.0.1 only`,
		`server.hostname "a9.example.org" is in no group of store.storehostlist (east, west): no peer tells this host of changes made elsewhere (IDLE sees them only at imap.recheck), and changes made here reach only the groups users name; add it to its group (the lists name each host by its server.hostname)`,
		`store.casreplicationstrategy = "SimpleStrategy" ignores data centers and racks: use "NetworkTopologyStrategy" in production`,
	}
	if got := c.Warnings(); !slices.Equal(got, want) {
		t.Fatalf("Warnings =\n%q\nwant\n%q", got, want)
	}
	c.Server.Hostname = "A1.example.org"
	c.Store.CasReplicationStrategy = "NetworkTopologyStrategy"
	c.IMAP.AllowPlaintext, c.POP3.AllowPlaintext = false, false
	if got := c.Warnings(); len(got) != 0 {
		t.Fatalf("Warnings of a consistent config: %q", got)
	}
	c.Store.StoreHostList = map[string][]string{}
	c.Notify.Listen = []string{"10.0.0.1:4790"}
	if got := c.Warnings(); len(got) != 1 || got[0] != "notify.listen is set but store.storehostlist has no groups: the notifier has no peers; list the access hosts, or set notify.listen = []" {
		t.Fatalf("Warnings of a notifier without peers: %q", got)
	}
}
