package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLoginCacheFollowsUserCommands: the server caches a verified password
// (login.cache_ttl), and "quire user passwd" and "quire user del", run in
// another process over the admin API, take effect on the next LOGIN: the
// old password is refused at once, the new one accepted, and a deleted
// user refused although its password was cached.
func TestLoginCacheFollowsUserCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	s := startIMAPServer(t) // the user has an argon2id hash: quire user add --password
	cli := func(stdin string, args ...string) {
		t.Helper()
		cmd := exec.Command(s.bin, append(args, "--config", s.cfg)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("quire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	login := func(pw, want string) {
		t.Helper()
		if got := loginStatus("127.0.0.1", s.imap, s.user, pw); got != want {
			t.Fatalf("LOGIN with %q: %q, want %q", pw, got, want)
		}
	}
	const ok, failed = "OK [CAPABILITY", "NO [AUTHENTICATIONFAILED]"
	login(s.pass, ok)
	login(s.pass, ok) // from the cache
	cli("new secret\n", "user", "passwd", s.user, "--password-stdin")
	login(s.pass, failed)
	login(`"new secret"`, ok)
	cli("", "user", "del", s.user)
	login(`"new secret"`, failed)
}
