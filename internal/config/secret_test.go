package config

import (
	"bytes"
	"strings"
	"testing"
)

// TestSecretKeys: every key named like a password or a secret is tagged
// secret, so a new one cannot be added without config dump masking it.
func TestSecretKeys(t *testing.T) {
	var got []string
	for _, k := range Keys() {
		name := k[strings.LastIndexByte(k, '.')+1:]
		looks := strings.Contains(name, "password") || strings.Contains(name, "secret")
		if looks != Secret(k) {
			t.Errorf("%s: Secret = %v, but its name says %v", k, Secret(k), looks)
		}
		if Secret(k) {
			got = append(got, k)
		}
	}
	if want := "store.caspassword store.casmetapassword store.casmsgpassword store.cascachepassword notify.secret search.password directory.ldap.bind_password proxy.admin_password"; strings.Join(got, " ") != want {
		t.Fatalf("secret keys %q, want %q", got, want)
	}
}

// TestMasked: the masked copy shows which secrets are set but not their
// values, and leaves the original alone (config set writes it back).
func TestMasked(t *testing.T) {
	c := Default()
	c.Store.CasPassword = "cas-pw-1"
	c.Notify.Secret = "notify-secret-0123456789"
	m := c.Masked()
	if m.Store.CasPassword != Mask || m.Notify.Secret != Mask || m.Search.Password != "" {
		t.Fatalf("masked: caspassword %q, notify.secret %q, search.password %q; want %q, %q, \"\"",
			m.Store.CasPassword, m.Notify.Secret, m.Search.Password, Mask, Mask)
	}
	if c.Store.CasPassword != "cas-pw-1" || c.Notify.Secret != "notify-secret-0123456789" {
		t.Fatalf("Masked changed the original: %q %q", c.Store.CasPassword, c.Notify.Secret)
	}
	var out bytes.Buffer
	if err := m.Dump(&out); err != nil {
		t.Fatal(err)
	}
	back, err := Parse(out.Bytes())
	if err != nil {
		t.Fatalf("masked dump does not parse: %v", err)
	}
	if back.Store.CasPassword != Mask || back.Store.CasUsername != c.Store.CasUsername || strings.Contains(out.String(), "cas-pw-1") {
		t.Fatalf("masked dump:\n%s", out.String())
	}
}
