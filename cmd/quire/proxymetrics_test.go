package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// getJSON answers GET url's status and its JSON body decoded into v.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: body is not JSON: %v", url, err)
	}
	return resp.StatusCode
}

// TestProxyObservability runs one access host of group east on Cassandra
// behind quire proxy; the group's first host (127.0.0.3) is configured
// but not running. After a scripted session through the proxy (a login
// of an unknown user, a wrong password, a good login, an LMTP
// transaction with one known and one unknown recipient) the proxy's
// /metrics has exactly the counts it caused: the first connection tried
// the dead host and failed, the later ones put it last (skips); /healthz
// answers; /readyz is ready with the group degraded, and unready with the
// group failed once the live host is gone.
func TestProxyObservability(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs a server and a proxy")
	}
	bin := buildQuire(t)
	live, dead := "127.0.0.2", "127.0.0.4"
	ports := testkit.CommonPorts(t, 2, live, dead) // IMAP, LMTP
	at := func(ip string, i int) string { return net.JoinHostPort(ip, strconv.Itoa(ports[i])) }
	groups := fmt.Sprintf("[store.storehostlist]\neast = [%q, %q]\n", dead, live)
	hostCfg := writeTierConfig(t, fmt.Sprintf("[server]\nhostname = %q\ntrusted_proxies = [\"127.0.0.1\"]\n[log]\nlevel = \"warn\"\n[store]\n%s%s\n"+
		"[search]\nengine = \"none\"\n[imap]\nlisten = [%q]\nallow_plaintext = true\n[pop3]\nlisten = []\n[lmtp]\nlisten = [%q]\n[http]\nlisten = []\n",
		live, casStoreKeys(addr), groups, at(live, 0), at(live, 1)))
	pIMAP, pLMTP, pHTTP := freePort(t), freePort(t), freePort(t)
	proxyCfg := writeTierConfig(t, fmt.Sprintf("[server]\nhostname = \"proxy.test\"\n[log]\nlevel = \"warn\"\n[store]\n%s%s\n"+
		"[proxy]\nimap_port = %d\nlmtp_port = %d\nhost_retry = \"1m\"\nconnect_timeout = \"1s\"\n"+
		"[imap]\nlisten = [%q]\nallow_plaintext = true\n[pop3]\nlisten = []\n[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\n",
		casStoreKeys(addr), groups, ports[0], ports[1], pIMAP, pLMTP, pHTTP))
	user := fmt.Sprintf("pxm%d@example.org", time.Now().UnixNano())
	if out, err := quire(t, "", "user", "add", user, "--password", "pw", "--mailhost", "east", "--config", hostCfg); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	host := startUntil(t, exec.Command(bin, "serve", "--config", hostCfg), "create a user")
	startUntil(t, exec.Command(bin, "proxy", "--config", proxyCfg), "quire: proxy ready")

	var alive map[string]string
	if code := getJSON(t, "http://"+pHTTP+"/healthz", &alive); code != http.StatusOK || alive["status"] != "alive" {
		t.Errorf("GET /healthz: %d %v", code, alive)
	}
	var ready readyBody
	code := getJSON(t, "http://"+pHTTP+"/readyz", &ready)
	wantReady := readyBody{Status: "ready", Checks: []checkResult{{Name: "directory", Status: "ok"},
		{Name: "groups", Status: "degraded", Detail: "hosts not answering (their groups' other hosts serve): east: " + dead}}}
	if code != http.StatusOK || !reflect.DeepEqual(ready, wantReady) {
		t.Errorf("GET /readyz with one host of the group down: %d %+v, want 200 %+v", code, ready, wantReady)
	}

	got := imapTagged(t, pIMAP, "LOGIN nobody@example.org pw", "LOGIN "+user+" wrong")
	if want := []string{"NO", "NO"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("failed logins through the proxy: %v, want %v", got, want)
	}
	// A fresh connection: the access host closed the one it refused.
	if got := imapTagged(t, pIMAP, "LOGIN "+user+" pw", "SELECT INBOX", "LOGOUT"); !reflect.DeepEqual(got, []string{"OK", "OK", "OK"}) {
		t.Fatalf("session through the proxy: %v", got)
	}
	tp := lmtpSession(t, pLMTP)
	replies := lmtpTransaction(t, tp, []string{user, "nobody@example.org"}, "Subject: px\r\n\r\nhello\r\n")
	if len(replies) != 3 || !strings.HasPrefix(replies[2], "250 ") {
		t.Fatalf("LMTP through the proxy: %q", replies)
	}

	liveIMAP, liveLMTP, deadIMAP := at(live, 0), at(live, 1), at(dead, 0)
	want := map[string]float64{
		`quire_proxy_logins_total{protocol="imap",result="failed"}`:                               1,
		`quire_proxy_logins_total{protocol="imap",result="refused"}`:                              1,
		`quire_proxy_logins_total{protocol="imap",result="ok"}`:                                   1,
		`quire_proxy_routed_sessions_total{group="east",host="` + liveIMAP + `",protocol="imap"}`: 1,
		`quire_proxy_routed_sessions_total{group="east",host="` + liveLMTP + `",protocol="lmtp"}`: 1,
		`quire_proxy_host_connects_total{host="` + deadIMAP + `",result="error"}`:                 1,
		`quire_proxy_host_connects_total{host="` + liveIMAP + `",result="ok"}`:                    2,
		`quire_proxy_host_connects_total{host="` + at(dead, 1) + `",result="error"}`:              1,
		`quire_proxy_host_connects_total{host="` + liveLMTP + `",result="ok"}`:                    1,
		`quire_proxy_host_skips_total{host="` + deadIMAP + `"}`:                                   1,
		`quire_proxy_connect_duration_seconds_count{result="ok"}`:                                 3,
		`quire_proxy_connect_duration_seconds_count{result="error"}`:                              2,
		`quire_proxy_lmtp_transactions_total{result="ok"}`:                                        1,
		`quire_proxy_lmtp_recipients_total{class="2xx"}`:                                          1,
		`quire_connections_accepted_total{protocol="imap"}`:                                       2,
		`quire_connections_accepted_total{protocol="lmtp"}`:                                       1,
		`quire_connections{protocol="lmtp"}`:                                                      1,
	}
	families := []string{"quire_proxy_logins_total", "quire_proxy_routed_sessions_total", "quire_proxy_host_connects_total",
		"quire_proxy_host_skips_total", "quire_proxy_connect_duration_seconds_count", "quire_proxy_lmtp_transactions_total",
		"quire_proxy_lmtp_recipients_total", "quire_connections_accepted_total", "quire_connections"}
	if _, nz := scrapeUntil(t, pHTTP, want, families...); !reflect.DeepEqual(nz, want) {
		t.Errorf("proxy metrics after the session:\n got %v\nwant %v", nz, want)
	}

	// The group's last host goes: the proxy is unready.
	_ = host.Process.Kill()
	_ = host.Wait()
	code = getJSON(t, "http://"+pHTTP+"/readyz", &ready)
	if code != http.StatusServiceUnavailable || ready.Status != "unready" || len(ready.Checks) != 2 ||
		ready.Checks[1].Status != "failed" || !strings.HasPrefix(ready.Checks[1].Detail, "group east: no host answers: ") {
		t.Errorf("GET /readyz with no host of the group: %d %+v, want 503 with the groups check failed", code, ready)
	}
}
