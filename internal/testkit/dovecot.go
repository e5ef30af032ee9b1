package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Dovecot is a private Dovecot (Debian's, run by the project's
// scripts/dovecot.sh on 127.0.0.1) for tests that compare Quire with it
// or import from it, with one user, DovecotUser, password "pw".
type Dovecot struct {
	t testing.TB
	// Top is its directory: configuration, state, log and mail.
	Top                          string
	LMTPPort, IMAPPort, POP3Port string
	extra                        string
}

// DovecotUser is the user a Dovecot has.
const DovecotUser = "user1@bench.test"

// StartDovecot starts a Dovecot, stopped when the test ends; extra names
// configuration files appended to its own (DOVECOT_CONF_EXTRA). A test
// without Dovecot fails under make test (QUIRE_REQUIRE_CLIENTS=1) and is
// skipped elsewhere, as is one not run as root (the script runs mail
// access as nobody).
func StartDovecot(t testing.TB, extra string) *Dovecot {
	t.Helper()
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		if os.Getenv("QUIRE_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("Dovecot is not installed (%v): make test installs it with scripts/deps.sh", err)
		}
		t.Skipf("Dovecot not installed: %v", err)
	}
	if os.Getuid() != 0 {
		t.Skip("scripts/dovecot.sh runs Dovecot's mail processes as nobody: needs root")
	}
	ports := CommonPorts(t, 3, "127.0.0.1")
	d := &Dovecot{t: t, Top: DovecotTop(t), LMTPPort: strconv.Itoa(ports[0]), IMAPPort: strconv.Itoa(ports[1]), POP3Port: strconv.Itoa(ports[2]), extra: extra}
	d.Script("start")
	t.Cleanup(func() { d.Script("stop") })
	return d
}

// DovecotTop is a directory for a private Dovecot's files, removed when
// the test ends: under the system's temporary directory, open to nobody,
// whom Dovecot runs mail access as when the test runs as root.
func DovecotTop(t testing.TB) string {
	t.Helper()
	top, err := os.MkdirTemp("", "quire-dovecot-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(top) })
	if err := os.Chmod(top, 0o755); err != nil {
		t.Fatal(err)
	}
	return top
}

// Script runs scripts/dovecot.sh cmd (start, stop) for this Dovecot.
func (d *Dovecot) Script(cmd string) {
	t := d.t
	t.Helper()
	c := exec.Command(filepath.Join(repoRoot(t), "scripts", "dovecot.sh"), cmd)
	c.Env = append(os.Environ(), "DOVECOT_DIR="+d.Top, "DOVECOT_USERS=1", "DOVECOT_PASSWORD=pw", "DOVECOT_CONF_EXTRA="+d.extra,
		"DOVECOT_LMTP_PORT="+d.LMTPPort, "DOVECOT_IMAP_PORT="+d.IMAPPort, "DOVECOT_POP3_PORT="+d.POP3Port)
	// Into a file, not a pipe: the Dovecot it starts keeps the script's
	// output open, and a pipe would never end.
	out, err := os.CreateTemp(d.Top, "script-*.out")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c.Stdout, c.Stderr = out, out
	if err := c.Run(); err != nil {
		said, _ := os.ReadFile(out.Name())
		log, _ := os.ReadFile(filepath.Join(d.Top, "dovecot.log"))
		t.Fatalf("scripts/dovecot.sh %s: %v\n%s\n%s", cmd, err, said, log)
	}
}

// Maildir is the user's Maildir.
func (d *Dovecot) Maildir() string { return filepath.Join(d.Top, "mail", DovecotUser, "Maildir") }

// repoRoot is the directory of go.mod, above the test's package.
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("testkit: no go.mod above the test's directory")
		}
		dir = up
	}
}
