package opensearch

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"testing"

	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/search/searchtest"
)

// open connects to the test node with a fresh index, deleted afterwards.
func open(t *testing.T, pageSize int) *Client {
	t.Helper()
	u := os.Getenv("QUIRE_TEST_OPENSEARCH")
	if u == "" {
		if os.Getenv("QUIRE_REQUIRE_OPENSEARCH") == "1" {
			t.Fatal("QUIRE_TEST_OPENSEARCH is not set and QUIRE_REQUIRE_OPENSEARCH=1: these tests need a real OpenSearch")
		}
		t.Skip("no QUIRE_TEST_OPENSEARCH (scripts/opensearch.sh start)")
	}
	var r [4]byte
	_, _ = crand.Read(r[:])
	name := "quiretest-" + hex.EncodeToString(r[:])
	c, err := New(context.Background(), Options{URL: u, Index: name, Refresh: true, PageSize: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range []string{"/" + name, "/_index_template/" + name} {
			req, _ := http.NewRequest("DELETE", u+p, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	})
	return c
}

// TestConformance runs the index suite on a real OpenSearch, with pages
// small enough that searches page.
func TestConformance(t *testing.T) {
	searchtest.Run(t, func(t *testing.T) search.Index { return open(t, 7) })
}
