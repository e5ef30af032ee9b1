package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReadyzLDAPDirectory: on an LDAP directory /readyz names a directory
// check, ok with scripts/slapd.sh's server (the reserved address being
// unknown there is an answer), failed with an unreachable one, which
// makes the host unready: no login and no delivery can succeed.
func TestReadyzLDAPDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	url := ldapURL(t)
	bin := buildQuire(t)
	for _, tc := range []struct {
		url  string
		code int
		want []string // each check's name and status
	}{
		{url, http.StatusOK, []string{"store ok", "directory ok"}},
		{"ldap://" + freePort(t), http.StatusServiceUnavailable, []string{"store ok", "directory failed"}},
	} {
		dir := t.TempDir()
		cfg, lmtpAddr, httpAddr := writeConfig(t, dir)
		body := fmt.Sprintf("[search]\nengine = \"none\"\n[directory]\ntype = \"ldap\"\n[directory.ldap]\nurls = [%q]\n"+
			"bind_dn = \"cn=quire,dc=quire,dc=test\"\nbind_password = \"quire-search\"\nbase_dn = \"ou=people,dc=quire,dc=test\"\n"+
			"connect_timeout = \"1s\"\ntimeout = \"1s\"\n", tc.url)
		f, err := os.OpenFile(filepath.Clean(cfg), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString(body)
		f.Close()
		startServer(t, bin, cfg, lmtpAddr)
		var (
			code int
			b    readyBody
			got  []string
		)
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			code, b, err = getReady(httpAddr)
			got = got[:0]
			for _, c := range b.Checks {
				got = append(got, c.Name+" "+c.Status)
			}
			if err == nil && code == tc.code && fmt.Sprint(got) == fmt.Sprint(tc.want) {
				break
			}
		}
		if err != nil || code != tc.code || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("directory %s: GET /readyz %d %+v (%v), want %d with %v", tc.url, code, b, err, tc.code, tc.want)
		}
	}
}
