package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigSecretsMasked: config dump prints store.caspassword and
// notify.secret as ******** unless --show-secrets; config get of a secret
// needs the flag; config set keeps the real secret in the file and does
// not echo it (issue 15, item 8).
func TestConfigSecretsMasked(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "quire.toml")
	const casPW, notifySecret = "cas-password-x1", "notify-secret-0123456789"
	body := "[store]\ndbtype = \"embedded\"\ndatadir = " + `"` + filepath.Join(dir, "data") + `"` +
		"\ncaspassword = \"" + casPW + "\"\n[notify]\nsecret = \"" + notifySecret + "\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	line := func(out, key string) string {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, key+" = ") {
				return l
			}
		}
		return ""
	}
	out, err := quire(t, "", "config", "dump", "--config", cfg)
	if err != nil || line(out, "caspassword") != `caspassword = "********"` || line(out, "secret") != `secret = "********"` ||
		strings.Contains(out, casPW) || strings.Contains(out, notifySecret) {
		t.Fatalf("config dump: %v\n%s", err, out)
	}
	out, err = quire(t, "", "config", "dump", "--show-secrets", "--config", cfg)
	if err != nil || line(out, "caspassword") != `caspassword = "`+casPW+`"` || line(out, "secret") != `secret = "`+notifySecret+`"` {
		t.Fatalf("config dump --show-secrets: %v\n%s", err, out)
	}
	if out, err := quire(t, "", "config", "get", "store.caspassword", "--config", cfg); err == nil ||
		err.Error() != "config get: store.caspassword is a secret: add --show-secrets to print it" || strings.Contains(out, casPW) {
		t.Fatalf("config get of a secret without --show-secrets: %v %q", err, out)
	}
	if out, err := quire(t, "", "config", "get", "notify.secret", "--show-secrets", "--config", cfg); err != nil || out != notifySecret+"\n" {
		t.Fatalf("config get --show-secrets: %v %q", err, out)
	}
	if out, err := quire(t, "", "config", "get", "store.casusername", "--config", cfg); err != nil || out != "\n" {
		t.Fatalf("config get of a plain key: %v %q", err, out)
	}
	// set writes the real values back, and does not echo a secret.
	if out, err := quire(t, "", "config", "set", "notify.secret", "another-secret-0123456789", "--config", cfg); err != nil ||
		strings.Contains(out, "another-secret") {
		t.Fatalf("config set of a secret: %v %q", err, out)
	}
	file, _ := os.ReadFile(cfg)
	if !strings.Contains(string(file), `caspassword = "`+casPW+`"`) || !strings.Contains(string(file), `secret = "another-secret-0123456789"`) {
		t.Fatalf("the file after config set:\n%s", file)
	}
}
