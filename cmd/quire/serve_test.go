package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/convert"
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
// figures; GET is refused, since the call does work.
func TestFreeMemoryEndpoint(t *testing.T) {
	h := httpHandler(nil, &searchStack{conv: convert.New(convert.Options{})}, "token")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/debug/memory/free", nil))
	var m map[string]uint64
	if err := json.Unmarshal(rec.Body.Bytes(), &m); rec.Code != 200 || err != nil {
		t.Fatalf("POST: %d %q: %v", rec.Code, rec.Body, err)
	}
	if m["heap_inuse"] == 0 || m["goroutines"] == 0 {
		t.Fatalf("figures %v", m)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/memory/free", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Fatalf("GET: %d, want 405", rec.Code)
	}
}
