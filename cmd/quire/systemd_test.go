package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSystemdUnits runs systemd-analyze verify on the units of
// contrib/systemd (ExecStart pointed at a freshly built quire), which
// must pass without a word: an unknown key or a bad value is only a
// warning to systemd, and a failure here. It also keeps the hardening
// and readiness settings the units promise.
func TestSystemdUnits(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	bin := buildQuire(t)
	units, _ := filepath.Glob("../../contrib/systemd/*.service")
	if len(units) < 2 {
		t.Fatalf("found %d units in contrib/systemd, want quire.service and quire-isc.service", len(units))
	}
	dir := t.TempDir()
	var copies []string
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, want := range []string{"\nType=notify\n", "\nNotifyAccess=main\n", "\nUser=quire\n", "\nNoNewPrivileges=yes\n",
			"\nProtectSystem=strict\n", "\nProtectHome=yes\n", "\nSystemCallFilter=@system-service\n"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", u, strings.TrimSpace(want))
			}
		}
		// The proxy's sessions hold more descriptors (pipes for splice).
		if m := regexp.MustCompile(`\nLimitNOFILE=([0-9]+)\n`).FindStringSubmatch(text); m == nil {
			t.Errorf("%s lacks LimitNOFILE", u)
		} else if n, _ := strconv.Atoi(m[1]); n < 65536 {
			t.Errorf("%s: LimitNOFILE=%d, want at least 65536", u, n)
		}
		if filepath.Base(u) == "quire.service" && !strings.Contains(text, "\nExecReload=/bin/kill -HUP $MAINPID\n") {
			t.Errorf("%s: no ExecReload sending SIGHUP", u)
		}
		c := filepath.Join(dir, filepath.Base(u))
		if err := os.WriteFile(c, []byte(strings.ReplaceAll(text, "/usr/bin/quire", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, c)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, copies...)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestServeNotifiesSystemd: quire serve, run as systemd runs a
// Type=notify service, says READY=1 once it serves, RELOADING=1 (with
// MONOTONIC_USEC) and READY=1 around a SIGHUP reload, and STOPPING=1 at
// SIGTERM.
func TestServeNotifiesSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	dir := t.TempDir()
	cfg, _, _ := writeConfig(t, dir)
	sock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cmd := exec.Command(bin, "serve", "--config", cfg)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	next := func() string {
		t.Helper()
		buf := make([]byte, 1024)
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("no message from quire serve: %v", err)
		}
		return string(buf[:n])
	}
	if got := next(); got != "READY=1\nSTATUS=serving\n" {
		t.Fatalf("at start: %q", got)
	}
	_ = cmd.Process.Signal(syscall.SIGHUP)
	if got := next(); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Fatalf("at SIGHUP: %q", got)
	}
	if got := next(); got != "READY=1\nSTATUS=serving\n" {
		t.Fatalf("after the reload: %q", got)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if got := next(); got != "STOPPING=1\nSTATUS=draining sessions\n" {
		t.Fatalf("at SIGTERM: %q", got)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("quire serve after SIGTERM: %v", err)
	}
}
