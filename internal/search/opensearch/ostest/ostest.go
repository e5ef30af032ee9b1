// Package ostest names a fresh index on the test OpenSearch node
// (QUIRE_TEST_OPENSEARCH; scripts/opensearch.sh start), for the tests of
// any package, package opensearch's own included (so it does not import
// it). It is imported by tests only.
package ostest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/quiremail/quire/internal/testkit"
)

// Index returns the test node's base URL and a fresh index name, whose
// index and template are deleted when the test ends. Without a node the
// test is skipped (or fails: testkit.Env).
func Index(t testing.TB) (url, name string) {
	t.Helper()
	u := testkit.Env(t, "OPENSEARCH", "base URL of an OpenSearch node", "scripts/opensearch.sh start")
	var r [4]byte
	_, _ = rand.Read(r[:])
	name = "quiretest-" + hex.EncodeToString(r[:])
	t.Cleanup(func() {
		for _, p := range []string{"/" + name, "/_index_template/" + name} {
			req, _ := http.NewRequest("DELETE", u+p, nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	})
	return u, name
}
