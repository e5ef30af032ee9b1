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

// TestConfigSetInPlace: config set changes one line of the shipped
// example and nothing else (comments, order, no hostname or other
// default written), keeps the file's mode, and follows a symlink (issue
// 19, item 5). Before, it rewrote the whole file from the effective
// configuration.
func TestConfigSetInPlace(t *testing.T) {
	orig, err := os.ReadFile("../../examples/all-in-one.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "quire.toml")
	if err := os.WriteFile(file, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	const from, to = "max_recipients = 100\n", "max_recipients = 7\n"
	if !strings.Contains(string(orig), from) {
		t.Fatalf("examples/all-in-one.toml no longer has %q", from)
	}
	if out, err := quire(t, "", "config", "set", "lmtp.max_recipients", "7", "--config", link); err != nil || out != file+": lmtp.max_recipients = 7\n" {
		t.Fatalf("config set: %v %q", err, out)
	}
	got, _ := os.ReadFile(file)
	if want := strings.Replace(string(orig), from, to, 1); string(got) != want {
		t.Fatalf("after config set the file is\n%s\nwant\n%s", got, want)
	}
	if fi, err := os.Lstat(file); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode after config set: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was replaced: %v", err)
	}
	// A key the file leaves out is added to its table, after its last key.
	if _, err := quire(t, "", "config", "set", "http.admin_token_file", "/run/quire/admin.token", "--config", file); err != nil {
		t.Fatal(err)
	}
	got2, _ := os.ReadFile(file)
	const last = "# admin_token_file = \"/run/quire/admin.token\"\n"
	if want := strings.Replace(string(got), last, last+"admin_token_file = \"/run/quire/admin.token\"\n", 1); string(got2) != want {
		t.Fatalf("after adding a key the file is\n%s\nwant\n%s", got2, want)
	}
	// A value Validate refuses leaves the file alone.
	if _, err := quire(t, "", "config", "set", "lmtp.max_recipients", "0", "--config", file); err == nil {
		t.Fatal("config set accepted lmtp.max_recipients = 0")
	}
	if got3, _ := os.ReadFile(file); string(got3) != string(got2) {
		t.Fatal("a refused config set changed the file")
	}
}
