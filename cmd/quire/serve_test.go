package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestServeDeliverAndList is the five-minute path of the README: start the
// server, add a user while it runs, deliver over LMTP, list the mailbox.
func TestServeDeliverAndList(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	cfg, lmtpAddr, _ := writeConfig(t, t.TempDir())
	startServer(t, bin, cfg, lmtpAddr)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--config", cfg)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("quire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("pw\n", "user", "add", "dora@example.org", "--password-stdin")
	tp := lmtpSession(t, lmtpAddr)
	ok, err := deliver(tp, "Dora+news@Example.org", "Subject: hi\r\n\r\nhello dora\r\n")
	if !ok || err != nil {
		t.Fatalf("delivery: %v %v", ok, err)
	}
	out := cli("", "mailbox", "list", "dora@example.org")
	var inbox string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "INBOX") {
			inbox = l
		}
	}
	if f := strings.Fields(inbox); len(f) < 4 || f[1] != "1" || f[2] != "1" {
		t.Fatalf("INBOX line %q, want 1 message, 1 unseen:\n%s", inbox, out)
	}
}

// TestFreeMemoryEndpoint: POST /debug/memory/free answers the runtime's
// figures.
func TestFreeMemoryEndpoint(t *testing.T) {
	h, _ := testHTTP(t)
	code, body := answer(h, "POST", "/debug/memory/free", "tok")
	var m map[string]uint64
	if err := json.Unmarshal([]byte(body), &m); code != 200 || err != nil {
		t.Fatalf("POST: %d %q: %v", code, body, err)
	}
	if m["heap_inuse"] == 0 || m["goroutines"] == 0 {
		t.Fatalf("figures %v", m)
	}
}
