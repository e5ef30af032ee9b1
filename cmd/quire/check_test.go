package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// TestCheckCommandWhileServing: quire check runs through the server that
// holds the embedded store, its bleve index included. A head planted off
// by one (with the server stopped) is found (exit status 1, one line per
// finding, a summary); --repair fixes it while the server runs (and
// sweeps the index's vocabulary), and the next check finds nothing (exit 0).
func TestCheckCommandWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	lmtpAddr, httpAddr := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\n"+
		"[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\n[imap]\nlisten = []\n[pop3]\nlisten = []\n", dataDir, lmtpAddr, httpAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--config", cfg)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("quire %s: %v", strings.Join(args, " "), err)
		}
		return string(out), 0
	}
	srv := startServer(t, bin, cfg, lmtpAddr)
	if out, code := run("user", "add", "ann@example.org", "--password", "pw"); code != 0 {
		t.Fatalf("user add: %s", out)
	}
	for i := range 2 {
		if ok, err := deliver(lmtpSession(t, lmtpAddr), "ann@example.org", fmt.Sprintf("Subject: m%d\r\n\r\nhello\r\n", i)); !ok || err != nil {
			t.Fatalf("delivery: %v %v", ok, err)
		}
	}
	if out, code := run("check"); code != 0 || !strings.Contains(out, "check: 1 user(s), 6 mailboxes, 2 messages, 2 bodies: 0 finding(s)") {
		t.Fatalf("check of a healthy store (exit %d):\n%s", code, out)
	}

	// Plant a head off by one, with the server stopped.
	_ = srv.Process.Signal(syscall.SIGTERM)
	_ = srv.Wait()
	plantHead(t, dataDir, "ann@example.org")
	startServer(t, bin, cfg, lmtpAddr)

	out, code := run("check", "ann@example.org")
	if code != 1 || !strings.Contains(out, "head: ann@example.org INBOX: head MESSAGES 3 ") ||
		!strings.Contains(out, "1 finding(s), 0 repaired") || strings.Contains(out, "(repaired)") {
		t.Fatalf("check of the planted head (exit %d):\n%s", code, out)
	}
	out, code = run("check", "ann@example.org", "--repair", "--bodies")
	if code != 0 || !strings.Contains(out, "head: ann@example.org INBOX: ") || !strings.Contains(out, "(repaired)") ||
		!strings.Contains(out, "1 finding(s), 1 repaired") ||
		!strings.Contains(out, "check: the search vocabulary was swept: 0 word(s) that no document holds removed") {
		t.Fatalf("check --repair (exit %d):\n%s", code, out)
	}
	if out, code := run("check"); code != 0 || !strings.Contains(out, "0 finding(s)") {
		t.Fatalf("check after the repair (exit %d):\n%s", code, out)
	}
	if out, code := run("check", "nobody@example.org"); code != 1 || !strings.Contains(out, "no such user") {
		t.Fatalf("check of an unknown user (exit %d):\n%s", code, out)
	}
}

// plantHead counts one message more in the user's INBOX head than its
// rows hold, through the backend (the server must be stopped).
func plantHead(t *testing.T, dataDir, address string) {
	t.Helper()
	ctx := context.Background()
	b, _, mb, closeFn := embeddedInbox(t, dataDir, address)
	defer closeFn()
	h, err := b.Head(ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	bad := h
	bad.Messages++
	bad.ModSeq++
	if err := b.Commit(ctx, mb.ID, h, bad, nil); err != nil {
		t.Fatal(err)
	}
}

// embeddedInbox opens the embedded store in dataDir (no server may hold
// it) and returns it with the user's INBOX; closeFn closes it.
func embeddedInbox(t *testing.T, dataDir, address string) (*embedded.Backend, *store.Store, store.Mailbox, func()) {
	t.Helper()
	b, err := embedded.Open(dataDir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st := store.New(b, store.Options{})
	u, err := st.User(ctx, address)
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	mb, err := st.Mailbox(ctx, u, "INBOX")
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	return b, st, mb, func() { b.Close() }
}

// TestCheckCommandOpenSearch: on Cassandra with OpenSearch, quire check
// checks the index against the store (it was "not checked" before): a
// healthy index has no finding; a stray document planted in the real
// OpenSearch is found (exit 1), removed by --repair, and gone after.
func TestCheckCommandOpenSearch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	be := searchBackends(t)["cassandra+opensearch"](t)
	s := startSearchServer(t, be.storeKeys, be.extra)
	var r [4]byte
	_, _ = crand.Read(r[:])
	user := "checker-" + hex.EncodeToString(r[:]) + "@example.org"
	s.addUser(t, user)
	for i := range 2 {
		s.deliverTo(t, fmt.Sprintf("Subject: m%d\r\n\r\nhello %d\r\n", i, i), user)
	}
	s.waitIndexed(t, 2)
	run := func(args ...string) (string, int) {
		t.Helper()
		out, err := exec.Command(s.bin, append(append([]string{"check", user}, args...), "--config", s.cfg)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("quire check: %v", err)
		}
		return string(out), 0
	}
	if out, code := run(); code != 0 || !strings.Contains(out, ": 0 finding(s)") || strings.Contains(out, "not checked") {
		t.Fatalf("check of a healthy index (exit %d):\n%s", code, out)
	}

	// Plant a document of a UID the INBOX never had.
	ctx := context.Background()
	st, closeStore := openConfigStore(t, s.cfg)
	u, err := st.User(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := st.Mailbox(ctx, u, "INBOX")
	closeStore()
	if err != nil {
		t.Fatal(err)
	}
	doc := fmt.Sprintf(`{"user":%q,"mailbox":%q,"uid":99,"subject":"stray"}`, u.ID, inbox.ID)
	req, _ := http.NewRequest(http.MethodPut, be.osURL+"/"+be.osIndex+"/_doc/"+url.PathEscape(u.ID+"/"+inbox.ID+"/99")+
		"?refresh=true&routing="+url.QueryEscape(u.ID), strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("plant a stray document: %s", resp.Status)
	}

	want := "index: " + user + " INBOX uid 99: document of a message not in the mailbox"
	if out, code := run(); code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "1 finding(s), 0 repaired") {
		t.Fatalf("check of the planted document (exit %d), want %q:\n%s", code, want, out)
	}
	if out, code := run("--repair"); code != 0 || !strings.Contains(out, want+" (repaired)") {
		t.Fatalf("check --repair (exit %d):\n%s", code, out)
	}
	if out, code := run(); code != 0 || !strings.Contains(out, ": 0 finding(s)") {
		t.Fatalf("check after the repair (exit %d):\n%s", code, out)
	}
}
