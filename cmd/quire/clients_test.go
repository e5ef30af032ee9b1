package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTool returns the path of a real client, failing the test when
// QUIRE_REQUIRE_CLIENTS=1 (make test) and skipping otherwise.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("QUIRE_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("%s is not installed: make test installs it with scripts/deps.sh", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestRealLMTPClients delivers with swaks and with Python's smtplib, as the
// README shows, and checks the mailbox afterwards.
func TestRealLMTPClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	swaks := needTool(t, "swaks")
	python := needTool(t, "python3")
	bin := buildQuire(t)
	cfg, lmtpAddr, _ := writeConfig(t, t.TempDir())
	startServer(t, bin, cfg, lmtpAddr)
	host, port, _ := strings.Cut(lmtpAddr, ":")
	if out, err := exec.Command(bin, "user", "add", "erin@example.org", "--password", "pw", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	run := func(name string, cmd *exec.Cmd) string { t.Helper(); return runTool(t, name, cmd) }
	out := run("swaks", exec.Command(swaks, "--protocol", "LMTP", "--server", host, "--port", port,
		"--from", "bob@example.net", "--to", "erin+swaks@example.org", "--header", "Subject: via swaks", "--body", "hello from swaks"))
	if !strings.Contains(out, "250 2.0.0") {
		t.Fatalf("swaks did not see 250 2.0.0:\n%s", out)
	}
	script := `import smtplib, sys
with smtplib.LMTP(sys.argv[1], int(sys.argv[2])) as l:
    refused = l.sendmail('bob@example.net', ['erin@example.org'],
        b'From: bob@example.net\r\nSubject: via python\r\n\r\nhello from python\r\n')
    assert not refused, refused
    try:
        l.sendmail('bob@example.net', ['nobody@example.org'], b'Subject: x\r\n\r\nx\r\n')
        sys.exit('unknown recipient accepted')
    except smtplib.SMTPRecipientsRefused as e:
        code = e.recipients['nobody@example.org'][0]
        assert code == 550, code
print('python ok')
`
	if out := run("python3", exec.Command(python, "-c", script, host, port)); !strings.Contains(out, "python ok") {
		t.Fatalf("python: %s", out)
	}
	list := run("mailbox list", exec.Command(bin, "mailbox", "list", "erin@example.org", "--config", cfg))
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "INBOX" && f[1] != "2" {
			t.Fatalf("INBOX should hold 2 messages:\n%s", list)
		}
	}
	if !strings.Contains(list, "INBOX") {
		t.Fatalf("no INBOX line:\n%s", list)
	}
}
