package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/quiremail/quire/internal/store/cassandra"
)

// scrape reads GET /metrics and returns every sample as
// name{label="value",...} (labels sorted; histograms as _count and _sum)
// with its value.
func scrape(t *testing.T, httpAddr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics: not the Prometheus text format: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			key := name + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[strings.Replace(key, "{", "_count{", 1)] = float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_UNTYPED:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// scrapeUntil scrapes httpAddr until the non-zero samples of families
// are want, for up to 5 s (what a session did is counted once its
// goroutine has returned), and returns the last scrape and those samples.
func scrapeUntil(t *testing.T, httpAddr string, want map[string]float64, families ...string) (all, nz map[string]float64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		all = scrape(t, httpAddr)
		nz = nonZero(all, families...)
		if reflect.DeepEqual(nz, want) || time.Now().After(deadline) {
			return all, nz
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// nonZero returns the samples of the named families that are not 0.
func nonZero(all map[string]float64, families ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		name, _, _ := strings.Cut(k, "{")
		if v != 0 && slices.Contains(families, name) {
			out[k] = v
		}
	}
	return out
}

// metricsServer starts quire serve with IMAP, LMTP and a public /metrics
// on free loopback ports, no search index (so SEARCH BODY converts
// attachments itself), the given [store] keys, and one user; it returns
// the user's address and the addresses.
func metricsServer(t *testing.T, storeKeys string) (user, imapAddr, lmtpAddr, httpAddr string) {
	t.Helper()
	dir := t.TempDir()
	bin := buildQuire(t)
	imapAddr, lmtpAddr, httpAddr = freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\n%s[search]\nengine = \"none\"\n[lmtp]\nlisten = [%q]\n"+
		"[http]\nlisten = [%q]\nmetrics_public = true\n[imap]\nlisten = [%q]\nallow_plaintext = true\n[pop3]\nlisten = []\n",
		storeKeys, lmtpAddr, httpAddr, imapAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, bin, cfg, lmtpAddr)
	var r [6]byte
	_, _ = rand.Read(r[:])
	user = "metrics" + hex.EncodeToString(r[:]) + "@example.org"
	if out, err := exec.Command(bin, "user", "add", user, "--password", "pw", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	return user, imapAddr, lmtpAddr, httpAddr
}

// imapTagged runs commands over one IMAP session and returns each
// command's tagged reply line, without the tag.
func imapTagged(t *testing.T, addr string, cmds ...string) []string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(nc)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatalf("imap greeting: %v", err)
	}
	var out []string
	for i, c := range cmds {
		tag := fmt.Sprintf("m%d", i)
		fmt.Fprintf(nc, "%s %s\r\n", tag, c)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("imap %s: %v", c, err)
			}
			if rest, ok := strings.CutPrefix(l, tag+" "); ok {
				st, _, _ := strings.Cut(strings.TrimRight(rest, "\r\n"), " ")
				out = append(out, st)
				break
			}
		}
	}
	return out
}

// TestMetricsAfterSession scrapes /metrics after a scripted session on a
// fresh server and finds exactly the counts it caused: one delivery (2xx,
// one append commit), one failed and one good LOGIN, SELECT, two SEARCH BODY (the RTF
// attachment converted once, then read from the store's conversion
// cache), LOGOUT, and the session gone. On Cassandra the driver's round
// trips and Paxos rounds are counted too.
func TestMetricsAfterSession(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	t.Run("embedded", func(t *testing.T) {
		dir := t.TempDir()
		testMetricsAfterSession(t, fmt.Sprintf("dbtype = \"embedded\"\ndatadir = %q\n", filepath.Join(dir, "data")), false)
	})
	t.Run("cassandra", func(t *testing.T) {
		testMetricsAfterSession(t, casStoreKeys(cassandraAddr(t)), true)
	})
}

func testMetricsAfterSession(t *testing.T, storeKeys string, cassandra bool) {
	user, imapAddr, lmtpAddr, httpAddr := metricsServer(t, storeKeys)
	// A word of its own, so the Cassandra conversion cache, shared by
	// every test run, has never seen this attachment.
	var r [8]byte
	_, _ = rand.Read(r[:])
	word := "rtf" + hex.EncodeToString(r[:])
	msg := "From: a@example.net\r\nTo: " + user + "\r\nSubject: metrics\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nplain body\r\n" +
		"--b\r\nContent-Type: application/rtf\r\nContent-Disposition: attachment; filename=note.rtf\r\n\r\n" +
		"{\\rtf1\\ansi " + word + "}\r\n--b--\r\n"
	tp := lmtpSession(t, lmtpAddr)
	if ok, err := deliver(tp, user, msg); !ok || err != nil {
		t.Fatalf("delivery: %v %v", ok, err)
	}
	// Refused recipients: an unknown user, a bad address, and one
	// accepted before the transaction is reset.
	for _, c := range []struct {
		line string
		code int
	}{{"MAIL FROM:<m@example.net>", 250}, {"RCPT TO:<nobody-" + user + ">", 550}, {"RCPT <" + user + ">", 501},
		{"RCPT TO:<" + user + ">", 250}, {"RSET", 250}} {
		if err := tp.PrintfLine("%s", c.line); err != nil {
			t.Fatal(err)
		}
		if _, _, err := tp.ReadResponse(c.code); err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
	}
	got := imapTagged(t, imapAddr,
		"LOGIN "+user+" wrong", "LOGIN "+user+" pw", "SELECT INBOX",
		"SEARCH BODY "+word, "SEARCH BODY "+word, "LOGOUT")
	if want := []string{"NO", "OK", "OK", "OK", "OK", "OK"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("tagged replies %v, want %v", got, want)
	}

	want := map[string]float64{
		`quire_imap_commands_total{command="LOGIN",result="no"}`:      1,
		`quire_imap_commands_total{command="LOGIN",result="ok"}`:      1,
		`quire_imap_commands_total{command="SELECT",result="ok"}`:     1,
		`quire_imap_commands_total{command="SEARCH",result="ok"}`:     2,
		`quire_imap_commands_total{command="LOGOUT",result="ok"}`:     1,
		`quire_imap_command_duration_seconds_count{command="LOGIN"}`:  2,
		`quire_imap_command_duration_seconds_count{command="SELECT"}`: 1,
		`quire_imap_command_duration_seconds_count{command="SEARCH"}`: 2,
		`quire_imap_command_duration_seconds_count{command="LOGOUT"}`: 1,
		`quire_lmtp_deliveries_total{class="2xx"}`:                    1,
		`quire_lmtp_recipients_total{result="accepted"}`:              2,
		`quire_lmtp_recipients_total{result="unknown_user"}`:          1,
		`quire_lmtp_recipients_total{result="syntax"}`:                1,
		`quire_store_commits_total{op="append",result="ok"}`:          1,
		`quire_store_commit_duration_seconds_count{op="append"}`:      1,
		`quire_lmtp_delivery_duration_seconds_count{}`:                1,
		`quire_logins_total{result="failed"}`:                         1,
		`quire_logins_total{result="passed"}`:                         1,
		`quire_converter_conversions_total{kind="rtf"}`:               1,
		`quire_converter_cache_lookups_total{result="hit"}`:           1,
		`quire_converter_cache_lookups_total{result="miss"}`:          1,
		`quire_connections_accepted_total{protocol="imap"}`:           1,
		`quire_connections_accepted_total{protocol="lmtp"}`:           1,
		`quire_connections{protocol="lmtp"}`:                          1, // tp is still open
	}
	families := []string{"quire_imap_commands_total", "quire_imap_command_duration_seconds_count",
		"quire_lmtp_deliveries_total", "quire_lmtp_delivery_duration_seconds_count", "quire_lmtp_recipients_total", "quire_logins_total",
		"quire_converter_conversions_total", "quire_converter_failures_total", "quire_converter_cache_lookups_total",
		"quire_connections_accepted_total", "quire_connections", "quire_sessions", "quire_panics_total", "quire_login_throttled_total",
		"quire_store_commits_total", "quire_store_commit_conflicts_total", "quire_store_commit_duration_seconds_count"}
	// The IMAP session's end (its connection and its authenticated
	// session) is counted once its goroutine has returned: poll briefly.
	all, nz := scrapeUntil(t, httpAddr, want, families...)
	if !reflect.DeepEqual(nz, want) {
		t.Errorf("metrics after the session:\n got %v\nwant %v", nz, want)
	}
	if _, ok := all[`quire_sessions{protocol="imap"}`]; !ok {
		t.Errorf("quire_sessions{protocol=\"imap\"} is missing")
	}
	if !cassandra {
		if _, ok := all[`quire_cassandra_paxos_rounds_total{}`]; ok {
			t.Errorf("the embedded store reports Cassandra metrics")
		}
		// The hourly purge has not run yet.
		if v, ok := all[`quire_store_text_purges_total{result="ok"}`]; !ok || v != 0 {
			t.Errorf("quire_store_text_purges_total{result=ok} = %v (present %v), want 0", v, ok)
		}
		// The delivery and the append each synced the log at least.
		if v := all[`quire_store_fsyncs_total{}`]; v < 2 {
			t.Errorf("quire_store_fsyncs_total = %v after a delivery and an append, want at least 2", v)
		}
		return
	}
	if _, ok := all[`quire_store_fsyncs_total{}`]; ok {
		t.Errorf("the Cassandra store reports the embedded store's syncs")
	}
	if _, ok := all[`quire_store_text_purges_total{result="ok"}`]; ok {
		t.Errorf("the Cassandra store reports the embedded store's text purges")
	}
	// The counts of the driver depend on the schema checks at start and
	// on background work, so they are bounded, not exact: the delivery's
	// commit is a Paxos round, and every request so far succeeded.
	if v := all[`quire_cassandra_paxos_rounds_total{}`]; v < 1 {
		t.Errorf("quire_cassandra_paxos_rounds_total = %v after a delivery, want at least 1", v)
	}
	if v := all[`quire_cassandra_requests_total{kind="query",result="ok"}`]; v < 10 {
		t.Errorf("quire_cassandra_requests_total{kind=query,result=ok} = %v, want at least 10", v)
	}
	if v := all[`quire_cassandra_requests_total{kind="query",result="error"}`]; v != 0 {
		t.Errorf("quire_cassandra_requests_total{kind=query,result=error} = %v, want 0", v)
	}
	// Every keyspace and kind of failure is there from the start, at 0.
	errSeries := 0
	for k, v := range all {
		if strings.HasPrefix(k, "quire_cassandra_errors_total{") {
			errSeries++
			if v != 0 {
				t.Errorf("%s = %v, want 0", k, v)
			}
		}
	}
	if want := 3 * len(casErrorKinds()); errSeries != want {
		t.Errorf("%d series of quire_cassandra_errors_total, want %d (3 keyspaces, each kind)", errSeries, want)
	}
	for _, class := range []string{"read", "write", "delete"} {
		if v, ok := all[`quire_cassandra_consistency_fallback{class="`+class+`"}`]; !ok || v != 0 {
			t.Errorf("quire_cassandra_consistency_fallback{class=%q} = %v (present %v), want 0", class, v, ok)
		}
	}
}

// casErrorKinds are the kinds of quire_cassandra_errors_total (named
// apart: testMetricsAfterSession's flag shadows the package).
var casErrorKinds = cassandra.ErrorKinds
