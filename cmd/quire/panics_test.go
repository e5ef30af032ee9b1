package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"testing"
)

// TestServerStatistics: GET /server/statistics names every component
// that recovers panics on this host (no notifier on a single host) with
// its count.
func TestServerStatistics(t *testing.T) {
	h, _ := testHTTP(t)
	code, body := answer(h, "GET", "/server/statistics", "tok")
	if code != http.StatusOK {
		t.Fatalf("GET /server/statistics: %d %q", code, body)
	}
	var got struct{ Panics map[string]int64 }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %q", err, body)
	}
	if want := map[string]int64{"converter": 0, "indexer": 0, "store": 0}; !maps.Equal(got.Panics, want) {
		t.Fatalf("panics %v, want %v", got.Panics, want)
	}
}
