package config

import "testing"

func TestAdminTokenFileMustNameAFile(t *testing.T) {
	for v, want := range map[string]string{
		"/run/quire/admin.token": "",
		"":                       "",
		"/run/quire/":            `config: http.admin_token_file = "/run/quire/": must name a file (serve writes the admin token there), not a directory`,
		"..":                     `config: http.admin_token_file = "..": must name a file (serve writes the admin token there), not a directory`,
	} {
		c := Default()
		c.HTTP.AdminTokenFile = v
		err := c.Validate()
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("admin_token_file %q: %q, want %q", v, got, want)
		}
	}
}
