package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quire runs one command line in process and returns its output.
func quire(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestUserAndMailboxCommands(t *testing.T) {
	dir := t.TempDir()
	cfg, _, _ := writeConfig(t, dir)
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, err := quire(t, stdin, args...)
		if err != nil {
			t.Fatalf("quire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	mustRun("s3cret\n", "user", "add", "Alice@Example.org", "--password-stdin", "--config", cfg)
	mustRun("", "user", "add", "--config", cfg, "bob@example.org", "--password", "pw")
	if out, err := quire(t, "x\n", "user", "add", "alice@example.org", "--password-stdin", "--config", cfg); err == nil {
		t.Fatalf("duplicate user add succeeded: %s", out)
	}
	if _, err := quire(t, "", "user", "add", "carol@example.org", "--config", cfg); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("user add without a password: %v", err)
	}
	mustRun("", "user", "add", "dave@example.org", "--password-hash", "{SSHA}"+"mS4y8O1xSeQMq4D3sXYHzTLu4dFxZWJ0", "--config", cfg)
	if _, err := quire(t, "", "user", "add", "eve@example.org", "--password-hash", "{NOPE}x", "--config", cfg); err == nil || !strings.Contains(err.Error(), "unknown password hash scheme") {
		t.Fatalf("user add with an unknown hash scheme: %v", err)
	}
	list := mustRun("", "user", "list", "--config", cfg)
	if !strings.Contains(list, "dave@example.org") || !strings.Contains(list, "alice@example.org") || !strings.Contains(list, "bob@example.org") {
		t.Fatalf("user list:\n%s", list)
	}
	mustRun("", "user", "quota", "alice@example.org", "--storage", "2MiB", "--messages", "50", "--config", cfg)
	if list := mustRun("", "user", "list", "--config", cfg); !strings.Contains(list, "2097152") || !strings.Contains(list, "50") {
		t.Fatalf("quota not shown:\n%s", list)
	}
	if _, err := quire(t, "", "user", "mailhost", "alice@example.org", "east", "--config", cfg); err == nil ||
		!strings.Contains(err.Error(), `"east": store.storehostlist defines no store affinity group`) {
		t.Fatalf("user mailhost without any group defined: %v", err)
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("[store.storehostlist]\neast = [\"host-e\"]\nwest = [\"host-w\"]\n")
	f.Close()
	mustRun("", "user", "mailhost", "alice@example.org", "east", "--config", cfg)
	mustRun("pw\n", "user", "add", "frank@example.org", "--password-stdin", "--mailhost", "west", "--config", cfg)
	if list := mustRun("", "user", "list", "--config", cfg); !strings.Contains(list, "east") || !strings.Contains(list, "west") {
		t.Fatalf("mailhost not shown:\n%s", list)
	}
	if _, err := quire(t, "", "user", "mailhost", "alice@example.org", "north", "--config", cfg); err == nil ||
		!strings.Contains(err.Error(), `"north" names no group or host of store.storehostlist (groups: east, west)`) {
		t.Fatalf("user mailhost to an undefined group: %v", err)
	}
	if _, err := quire(t, "", "user", "add", "gina@example.org", "--password", "pw", "--mailhost", "north", "--config", cfg); err == nil ||
		!strings.Contains(err.Error(), "user add --mailhost: \"north\" names no group") {
		t.Fatalf("user add --mailhost to an undefined group: %v", err)
	}
	mustRun("", "user", "mailhost", "alice@example.org", "host-w", "--config", cfg) // a host names its group
	mbs := mustRun("", "mailbox", "list", "alice@example.org", "--config", cfg)
	for _, name := range []string{"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"} {
		if !strings.Contains(mbs, name) {
			t.Fatalf("mailbox list lacks %s:\n%s", name, mbs)
		}
	}
	mustRun("newpw\n", "user", "passwd", "alice@example.org", "--password-stdin", "--config", cfg)
	mustRun("", "user", "del", "bob@example.org", "--config", cfg)
	if list := mustRun("", "user", "list", "--config", cfg); strings.Contains(list, "bob@") {
		t.Fatalf("deleted user still listed:\n%s", list)
	}
	if _, err := quire(t, "", "mailbox", "list", "nobody@example.org", "--config", cfg); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Fatalf("mailbox list for unknown user: %v", err)
	}
}

func TestConfigCommands(t *testing.T) {
	dir := t.TempDir()
	cfg, _, _ := writeConfig(t, dir)
	if out, err := quire(t, "", "config", "check", "--config", cfg); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("config check: %v %s", err, out)
	}
	bad := filepath.Join(dir, "bad.toml")
	_ = os.WriteFile(bad, []byte("[store]\ndbtype = \"mysql\"\ncasconectpoints = [\"x\"]\n"), 0o600)
	_, err := quire(t, "", "config", "check", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), "store.casconectpoints") {
		t.Fatalf("config check of a bad file: %v", err)
	}
	out, err := quire(t, "", "config", "dump", "--config", cfg)
	if err != nil || !strings.Contains(out, "casmetakeyspace = \"ms_mbox\"") {
		t.Fatalf("config dump lacks defaults: %v\n%s", err, out)
	}
	if _, err := quire(t, "", "config", "set", "lmtp.max_recipients", "7", "--config", cfg); err != nil {
		t.Fatal(err)
	}
	if out, _ := quire(t, "", "config", "get", "lmtp.max_recipients", "--config", cfg); strings.TrimSpace(out) != "7" {
		t.Fatalf("config get after set: %q", out)
	}
	if _, err := quire(t, "", "config", "set", "lmtp.max_recipients", "many", "--config", cfg); err == nil {
		t.Fatal("config set accepted a bad value")
	}
	if out, err := quire(t, "", "init", "--config", cfg); err != nil || !strings.Contains(out, "nothing to do") {
		t.Fatalf("init on embedded: %v %s", err, out)
	}
	if _, err := quire(t, "", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
}
