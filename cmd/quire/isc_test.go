package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/store"
)

// TestISCConvert: quire isc convert prints what search will find in a
// file, part by part for a message, and fails naming what it could not
// convert.
func TestISCConvert(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out, err := quire(t, "", "isc", "convert", write("memo.rtf", `{\rtf1{\fonttbl{\f0 Arial;}}Budget {\b zeppelin}\par}`))
	if err != nil || !strings.Contains(out, "Budget zeppelin") || strings.Contains(out, "Arial") {
		t.Fatalf("rtf: %q, %v", out, err)
	}
	out, err = quire(t, "", "isc", "convert", write("m.eml", "Subject: =?UTF-8?Q?caf=C3=A9?=\r\nContent-Type: text/html\r\n\r\n<p>fjord</p>\r\n"))
	if err != nil || !strings.Contains(out, "café") || !strings.Contains(out, "--- html\nfjord") {
		t.Fatalf("eml: %q, %v", out, err)
	}
	out, err = quire(t, "", "isc", "convert", write("latin.txt", "na\xefve"), "--charset", "iso-8859-1")
	if err != nil || !strings.Contains(out, "naïve") {
		t.Fatalf("charset: %q, %v", out, err)
	}
	if _, err := quire(t, "", "isc", "convert", write("pic.png", "\x89PNG")); err == nil || !strings.Contains(err.Error(), "name only") {
		t.Fatalf("png: %v", err)
	}
	if _, err := quire(t, "", "isc", "convert", write("bad.docx", "PK not a zip")); err == nil || !strings.Contains(err.Error(), "docx") {
		t.Fatalf("broken docx: %v", err)
	}
	if _, err := quire(t, "", "isc", "frobnicate"); err == nil {
		t.Fatal("isc frobnicate accepted")
	}
}

// TestStoreIsTheConverterCache: the store's text cache (ms_cache, or the
// embedded data directory) is what the converter caches in.
func TestStoreIsTheConverterCache(t *testing.T) {
	var c convert.Cache = (*store.Store)(nil)
	_ = c
}

// TestISCServe: quire isc serve answers conversions and statistics until
// its context ends.
func TestISCServe(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- run(ctx, []string{"isc", "serve", "--listen", addr}, strings.NewReader(""), &out, &out)
	}()
	var resp *http.Response
	var err error
	for range 50 {
		if resp, err = http.Post("http://"+addr+"/converter/convert?type=text/html", "application/octet-stream", strings.NewReader("<p>fjord</p>")); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	var a struct{ Kind, Text, Error string }
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Kind != "html" || a.Text != "fjord" {
		t.Fatalf("answer %+v, %v", a, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/converter/statistics")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("statistics: %v", err)
	}
	resp.Body.Close()
	// The conversion is in /metrics; the probes answer.
	m := scrape(t, addr)
	if got := m[`quire_converter_conversions_total{kind="html"}`]; got != 1 {
		t.Errorf("isc serve: quire_converter_conversions_total{kind=\"html\"} = %v, want 1", got)
	}
	info := 0
	for k := range m {
		if strings.HasPrefix(k, `quire_build_info{goversion="`+runtime.Version()+`",role="isc",version=`) {
			info++
		}
	}
	if info != 1 {
		t.Errorf("isc serve: %d quire_build_info series with role isc, want 1", info)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		resp, err = http.Get("http://" + addr + probe)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("isc serve: GET %s: %v %v", probe, resp, err)
		}
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("isc serve: %v\n%s", err, out.String())
	}
	if _, err := quire(t, "", "isc", "serve", "--tls", "--listen", freePort(t)); err == nil || !strings.Contains(err.Error(), "tls.cert_file") {
		t.Fatalf("--tls without a certificate: %v", err)
	}
}

// TestConverterOverTLS: an access host reaches an https converter host
// whose certificate isc.ca_file vouches for, and refuses one it does not.
func TestConverterOverTLS(t *testing.T) {
	remote := convert.New(convert.Options{})
	srv := httptest.NewTLSServer(convert.Handler(remote))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	hc, err := iscHTTPClient(config.ISC{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	c := convert.New(convert.Options{Hosts: []string{srv.URL}, HTTP: hc})
	if r := c.Convert(context.Background(), "text/html", "utf-8", "", []byte("<p>fjord</p>")); r.Err != nil || !strings.Contains(r.Text, "fjord") {
		t.Fatalf("over TLS: %+v", r)
	}
	if st := c.Stats(); st.Remote[srv.URL] != 1 || st.Fallbacks != 0 {
		t.Fatalf("the part was not converted by the TLS host: %+v", st)
	}
	// Without the CA the host is refused, and the part is converted here.
	plain, _ := iscHTTPClient(config.ISC{})
	c2 := convert.New(convert.Options{Hosts: []string{srv.URL}, HTTP: plain})
	if r := c2.Convert(context.Background(), "text/html", "utf-8", "", []byte("<p>fjord</p>")); r.Err != nil {
		t.Fatalf("fallback: %+v", r)
	}
	if st := c2.Stats(); st.Fallbacks != 1 || st.RemoteFailed[srv.URL] != 1 {
		t.Fatalf("an unknown certificate was accepted: %+v", st)
	}
	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.pem"), write(t, "junk.pem", "not a certificate")} {
		if _, err := iscHTTPClient(config.ISC{CAFile: bad}); err == nil || !strings.Contains(err.Error(), "isc.ca_file") {
			t.Errorf("ca_file %s: %v", bad, err)
		}
	}
}

func write(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConverterOptions: the [isc] bounds reach the converter of serve and
// of isc serve alike (isc serve once read none of them: its engine cache
// was the quire user's home, which the systemd unit hides).
func TestConverterOptions(t *testing.T) {
	i := config.Default().ISC
	i.Timeout = config.Duration(3 * time.Second)
	i.MaxPartSize = 7 << 20
	i.MaxPDFMemory = 96 << 20
	i.EngineCache = "/var/cache/quire/pdf-engine"
	got := converterOptions(i)
	want := convert.Options{Timeout: 3 * time.Second, MaxInput: 7 << 20, MaxPDFMemory: 96 << 20, EngineCache: "/var/cache/quire/pdf-engine"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("converterOptions = %+v, want %+v", got, want)
	}
}
