package main

import (
	"net/http"
	"testing"

	"github.com/quiremail/quire/internal/metrics"
)

// TestProxyProfilerNeedsTheToken: the proxy's profiler answers 401
// without the admin token or with a wrong one, and 200 with it; the
// probes and /metrics answer without it.
func TestProxyProfilerNeedsTheToken(t *testing.T) {
	var ready readiness
	ready.Ready()
	h := proxyHTTP(metrics.New("proxy", "test"), &ready, nil, "tok")
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=0.1"} {
		for _, tok := range []string{"", "wrong"} {
			if code, body := answer(h, "GET", path, tok); code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d %q, want 401", path, tok, code, short(body))
			}
		}
		if code, body := answer(h, "GET", path, "tok"); code != http.StatusOK {
			t.Errorf("GET %s with the token: %d %q, want 200", path, code, short(body))
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, body := answer(h, "GET", path, ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d %q, want 200", path, code, short(body))
		}
	}
}
