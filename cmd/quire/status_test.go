package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/testkit"
)

// TestStatusHandler: GET /status needs the admin token (401 and the
// Bearer challenge without it, as the admin API), and with it shows the
// embedded store's data directory and the connections it was given.
func TestStatusHandler(t *testing.T) {
	cfg := config.Default()
	cfg.Server.Hostname = "solo.example.org"
	cfg.Store.DataDir = t.TempDir()
	b, err := embedded.Open(cfg.Store.DataDir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	st := store.New(b, store.Options{})
	ss, err := openSearch(context.Background(), cfg, st, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.close)
	conns := map[string]func() netserve.Stats{"imap": func() netserve.Stats { return netserve.Stats{Open: 1, Accepted: 2} }}
	h := httpHandler(operatorHTTP{st: st, ss: ss, token: "tok", ready: new(readiness), status: statusPage(cfg, st, ss, nil, conns)})

	for _, tok := range []string{"", "wrong"} {
		req := httptest.NewRequest("GET", "/status", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != `Bearer realm="quire"` {
			t.Errorf("GET /status with token %q: %d, WWW-Authenticate %q; want 401 and the Bearer challenge", tok, rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
	}
	code, body := answer(h, "GET", "/status", "tok")
	if code != http.StatusOK {
		t.Fatalf("GET /status with the token: %d %s", code, short(body))
	}
	tables, err := testkit.HTMLTables(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := tables["store"]; len(got) != 3 || !reflect.DeepEqual(got[:2], [][]string{{"backend", "embedded"}, {"data directory", cfg.Store.DataDir}}) {
		t.Errorf("store table %q, want the embedded store in %s and its disk free", got, cfg.Store.DataDir)
	}
	if want := [][]string{{"protocol", "open", "accepted", "refused"}, {"imap", "1", "2", "0"}}; !reflect.DeepEqual(tables["connections"], want) {
		t.Errorf("connections table %q, want %q", tables["connections"], want)
	}
	if want := [][]string{{"host", "solo.example.org"}, {"group", "(none: this host is in no group of store.storehostlist)"}}; !reflect.DeepEqual(tables["host"], want) {
		t.Errorf("host table %q, want %q", tables["host"], want)
	}
}

// chromium returns the headless browser's path: the test fails without
// it when QUIRE_REQUIRE_CHROMIUM=1 (make test; scripts/deps.sh installs
// Debian's chromium) and skips otherwise.
func chromium(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("QUIRE_REQUIRE_CHROMIUM") == "1" {
			t.Fatalf("QUIRE_REQUIRE_CHROMIUM=1 but chromium is not on PATH: run scripts/deps.sh (Debian's chromium package)")
		}
		t.Skip("chromium is not on PATH (scripts/deps.sh installs it)")
	}
	return p
}

// runChromium runs headless Chromium on url with args and returns its
// standard output. It gets its own profile directory, and no sandbox when
// the test runs as root (Chromium refuses to start otherwise).
func runChromium(t *testing.T, bin, target string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	all := []string{"--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,1100"}
	if os.Geteuid() == 0 {
		all = append(all, "--no-sandbox")
	}
	all = append(append(all, args...), target)
	cmd := exec.CommandContext(ctx, bin, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// TestStatusPageChromium starts two access hosts of group "east" on
// Cassandra (a third host of the group is configured but not running),
// runs an LMTP delivery and an IMAP session on the first, and loads its
// /status in headless Chromium through a front that adds the admin token
// (the browser cannot send a header of its own). The DOM Chromium
// rendered must show this host, its group with the running peer's link up
// and the missing one's down, the keyspaces with their replication
// factors, each query class on its normal consistency (with the
// configured levels), and the
// connections the session made. The screenshot is checked to be a page
// sized PNG; QUIRE_UPDATE_SCREENSHOT=1 writes it to docs/status.png.
func TestStatusPageChromium(t *testing.T) {
	bin := chromium(t)
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs two servers")
	}
	qbin := buildQuire(t)
	type host struct{ ip, imap, lmtp, notify, http, cfg, token string }
	hosts := []*host{{ip: "127.0.0.2"}, {ip: "127.0.0.3"}, {ip: "127.0.0.4"}}
	for _, h := range hosts {
		h.imap, h.lmtp, h.notify, h.http = freePortOn(t, h.ip), freePortOn(t, h.ip), freePortOn(t, h.ip), freePortOn(t, h.ip)
	}
	groups := fmt.Sprintf("[store.storehostlist]\neast = [%q, %q, %q]\n", hosts[0].notify, hosts[1].notify, hosts[2].notify)
	for _, h := range hosts[:2] {
		dir := t.TempDir()
		h.cfg, h.token = filepath.Join(dir, "quire.toml"), filepath.Join(dir, "admin.token")
		body := fmt.Sprintf("[server]\nhostname = %q\n[log]\nlevel = \"warn\"\n[store]\n%s%s\n[notify]\nlisten = [%q]\nsecret = \"a secret shared by the test hosts\"\n"+
			"[search]\nengine = \"none\"\n[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\nadmin_token_file = %q\n[imap]\nlisten = [%q]\nallow_plaintext = true\n[pop3]\nlisten = []\n",
			h.ip, casStoreKeys(addr), groups, h.notify, h.lmtp, h.http, h.token, h.imap)
		if err := os.WriteFile(h.cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a, b := hosts[0], hosts[1]
	user := "status" + fmt.Sprint(time.Now().UnixNano()) + "@example.org"
	if out, err := quire(t, "", "user", "add", user, "--password", "pw", "--mailhost", "east", "--config", a.cfg); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	startServer(t, qbin, a.cfg, a.lmtp)
	startServer(t, qbin, b.cfg, b.lmtp)
	tp := lmtpSession(t, a.lmtp)
	if ok, err := deliver(tp, user, "Subject: status\r\n\r\nhello\r\n"); !ok || err != nil {
		t.Fatalf("delivery: %v %v", ok, err)
	}
	if got := imapTagged(t, a.imap, "LOGIN "+user+" pw", "SELECT INBOX", "LOGOUT"); !reflect.DeepEqual(got, []string{"OK", "OK", "OK"}) {
		t.Fatalf("IMAP session: %v", got)
	}
	tok, err := os.ReadFile(a.token)
	if err != nil {
		t.Fatal(err)
	}
	backend, _ := url.Parse("http://" + a.http)
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backend)
		r.Out.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}}
	front := httptest.NewServer(rp)
	t.Cleanup(front.Close)

	want := map[string][][]string{
		"host":  {{"host", a.ip}, {"group", "east"}, {"member", a.ip}, {"member", b.ip}, {"member", hosts[2].ip}},
		"peers": {{"peer", "link", "sent", "dropped"}, {b.notify, "up", "1", "0"}, {hosts[2].notify, "down", "0", "0"}},
		"keyspaces": {{"keyspace", "name", "data center", "replication factor", "connect points"},
			{"meta", "quiretest_mbox", "datacenter1", "1", addr}, {"msg", "quiretest_msg", "datacenter1", "1", addr}, {"cache", "quiretest_cache", "datacenter1", "1", addr}},
		"consistency": {{"query class", "state", "consistency", "fallback"}, {"delete", "normal", "LOCAL_QUORUM", "LOCAL_ONE"},
			{"read", "normal", "LOCAL_QUORUM", "LOCAL_ONE"}, {"write", "normal", "LOCAL_QUORUM", "LOCAL_ONE"}},
		"connections": {{"protocol", "open", "accepted", "refused"}, {"imap", "0", "1", "0"}, {"lmtp", "1", "1", "0"}, {"pop3", "0", "0", "0"}},
	}
	// The links and the end of the IMAP session settle within moments.
	var got map[string][][]string
	for deadline := time.Now().Add(10 * time.Second); ; {
		dom := runChromium(t, bin, front.URL+"/status", "--dump-dom")
		if got, err = testkit.HTMLTables(bytes.NewReader(dom)); err != nil {
			t.Fatalf("the DOM Chromium dumped: %v\n%s", err, dom)
		}
		if sameTables(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for id := range want {
		if !reflect.DeepEqual(got[id], want[id]) {
			t.Errorf("table %s as Chromium rendered it:\n got %q\nwant %q", id, got[id], want[id])
		}
	}
	for _, id := range []string{"converter", "purge", "store"} {
		if len(got[id]) == 0 {
			t.Errorf("table %s is missing or empty", id)
		}
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	runChromium(t, bin, front.URL+"/status", "--screenshot="+shot, "--hide-scrollbars")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if r := img.Bounds(); r.Dx() != 1400 || r.Dy() != 1100 {
		t.Errorf("screenshot is %v, want the 1400x1100 window", r)
	}
	if os.Getenv("QUIRE_UPDATE_SCREENSHOT") == "1" {
		data, _ := os.ReadFile(shot)
		if err := os.WriteFile(filepath.Join("..", "..", "docs", "status.png"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// sameTables reports whether got has want's tables with their cells.
func sameTables(got, want map[string][][]string) bool {
	for id := range want {
		if !reflect.DeepEqual(got[id], want[id]) {
			return false
		}
	}
	return true
}
