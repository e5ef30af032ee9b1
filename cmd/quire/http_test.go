package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/metrics"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// testHTTP is httpHandler over an embedded store and a bleve index in a
// temporary directory, with token "tok".
func testHTTP(t *testing.T) (http.Handler, *readiness) {
	t.Helper()
	cfg := config.Default()
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
	ready := new(readiness)
	return httpHandler(operatorHTTP{st: st, ss: ss, token: "tok", ready: ready, metrics: metrics.New("serve", "test").Handler()}), ready
}

// TestMetricsPublic: with http.metrics_public, GET /metrics answers
// without the token; the rest still needs it.
func TestMetricsPublic(t *testing.T) {
	h, _ := testHTTP(t)
	ph := httpHandler(operatorHTTP{st: nil, ss: &searchStack{}, token: "tok", ready: new(readiness),
		metrics: metrics.New("serve", "test").Handler(), metricsPublic: true})
	if code, body := answer(ph, "GET", "/metrics", ""); code != http.StatusOK || !strings.Contains(body, "quire_build_info{") {
		t.Errorf("public GET /metrics without a token: %d %q, want 200 with quire_build_info", code, short(body))
	}
	if code, _ := answer(ph, "GET", "/server/statistics", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /server/statistics without a token, metrics public: %d, want 401", code)
	}
	if code, _ := answer(h, "GET", "/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a token, metrics not public: %d, want 401", code)
	}
}

// answer sends one request and returns the status and body.
func answer(h http.Handler, method, path, token string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

// short cuts a body for a failure message (a profile is megabytes).
func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// TestOperatorEndpointsNeedTheToken: the profiler, freeing memory, the
// statistics and the admin API answer 401 without the admin token or with
// a wrong one, and 200 with it (issue 15, item 8). The probes answer
// without it.
func TestOperatorEndpointsNeedTheToken(t *testing.T) {
	h, ready := testHTTP(t)
	ready.Ready()
	for _, e := range []struct{ method, path string }{
		{"GET", "/debug/pprof/"},
		{"GET", "/debug/pprof/goroutine?debug=1"},
		{"GET", "/debug/pprof/profile?seconds=1"},
		{"GET", "/debug/pprof/trace?seconds=0.1"},
		{"POST", "/debug/memory/free"},
		{"GET", "/converter/statistics"},
		{"GET", "/indexer/statistics"},
		{"GET", "/server/statistics"},
		{"GET", "/metrics"},
		{"POST", "/admin/user/list"},
	} {
		for _, tok := range []string{"", "wrong"} {
			if code, body := answer(h, e.method, e.path, tok); code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d %q, want 401", e.method, e.path, tok, code, short(body))
			}
		}
		if code, body := answer(h, e.method, e.path, "tok"); code != http.StatusOK {
			t.Errorf("%s %s with the token: %d %q, want 200", e.method, e.path, code, short(body))
		}
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := answer(h, "GET", path, ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d %q, want 200", path, code, body)
		}
	}
	// GET of the memory endpoint is refused (the call does work), once
	// the caller is known.
	if code, _ := answer(h, "GET", "/debug/memory/free", "tok"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /debug/memory/free with the token: %d, want 405", code)
	}
}

// TestReadyz: 503 "starting" until Ready, 200 "ready" while the store
// answers (its check and the search index's named in the JSON body), 503
// "stopping" from Stopping on, and Ready cannot undo it.
func TestReadyz(t *testing.T) {
	h, ready := testHTTP(t)
	want := func(code int, body readyBody) {
		t.Helper()
		gotCode, got := answer(h, "GET", "/readyz", "")
		var b readyBody
		if err := json.Unmarshal([]byte(got), &b); err != nil || gotCode != code || !reflect.DeepEqual(b, body) {
			t.Fatalf("GET /readyz: %d %q (%v), want %d %+v", gotCode, got, err, code, body)
		}
	}
	want(503, readyBody{Status: "starting"})
	ready.Ready()
	want(200, readyBody{Status: "ready", Checks: []checkResult{{Name: "store", Status: "ok"}, {Name: "search", Status: "ok"}}})
	ready.Stopping()
	want(503, readyBody{Status: "stopping"})
	ready.Ready()
	want(503, readyBody{Status: "stopping"})
}

// TestReadyzChecks: a failed check makes /readyz 503 "unready", a
// degraded one leaves it 200; the body names every check with its
// result. The notifier's check reports a peer that is not linked as
// degraded; the directory's fails on an unreachable directory, not on
// the reserved address being unknown.
func TestReadyzChecks(t *testing.T) {
	ok := readyCheck{name: "store", run: func(context.Context) (string, error) { return "", nil }}
	failed := readyCheck{name: "search", run: func(context.Context) (string, error) { return "", errors.New("index down") }}
	mesh, err := notify.NewMesh(notify.MeshOptions{Self: "a.test", Groups: map[string][]string{"g": {"a.test", freePort(t)}},
		Port: 4026, Secret: []byte("a secret of sixteen bytes or more"), Hub: notify.NewHub(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer mesh.Close()
	peer := mesh.Peers()[0].Addr
	ldapDown := directoryCheck(lookupFunc(func(context.Context, string) (directory.Entry, error) {
		return directory.Entry{}, mail.Unavailable("ldap search", errors.New("connection refused"))
	}))
	ldapUp := directoryCheck(lookupFunc(func(context.Context, string) (directory.Entry, error) {
		return directory.Entry{}, mail.ErrNoSuchUser
	}))
	var r readiness
	r.Ready()
	for _, tc := range []struct {
		checks []readyCheck
		code   int
		want   readyBody
	}{
		{[]readyCheck{ok, failed, notifyCheck(mesh)}, 503, readyBody{Status: "unready", Checks: []checkResult{
			{Name: "store", Status: "ok"}, {Name: "search", Status: "failed", Detail: "index down"},
			{Name: "notify", Status: "degraded", Detail: "peers not linked (changes reach them late): " + peer}}}},
		{[]readyCheck{ok, ldapDown}, 503, readyBody{Status: "unready", Checks: []checkResult{
			{Name: "store", Status: "ok"},
			{Name: "directory", Status: "failed", Detail: mail.Unavailable("ldap search", errors.New("connection refused")).Error()}}}},
		{[]readyCheck{ok, ldapUp}, 200, readyBody{Status: "ready", Checks: []checkResult{
			{Name: "store", Status: "ok"}, {Name: "directory", Status: "ok"}}}},
		{[]readyCheck{ok, notifyCheck(mesh)}, 200, readyBody{Status: "ready", Checks: []checkResult{
			{Name: "store", Status: "ok"},
			{Name: "notify", Status: "degraded", Detail: "peers not linked (changes reach them late): " + peer}}}},
	} {
		code, body := answer(r.handler(tc.checks), "GET", "/readyz", "")
		var got readyBody
		if err := json.Unmarshal([]byte(body), &got); err != nil || code != tc.code || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("GET /readyz: %d %s (%v), want %d %+v", code, body, err, tc.code, tc.want)
		}
	}
}

// lookupFunc is a directory lookup in a function.
type lookupFunc func(ctx context.Context, address string) (directory.Entry, error)

func (f lookupFunc) Lookup(ctx context.Context, address string) (directory.Entry, error) {
	return f(ctx, address)
}
