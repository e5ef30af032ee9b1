package testkit

import (
	"os"
	"testing"
)

// Env returns $QUIRE_TEST_<name>, where a real server the test needs
// runs (what says what it holds). Without it the test is skipped, or
// fails when QUIRE_REQUIRE_<name>=1 says a missing server is a failure
// (make test); start is the command that starts it.
func Env(t testing.TB, name, what, start string) string {
	t.Helper()
	a := os.Getenv("QUIRE_TEST_" + name)
	if a == "" {
		if os.Getenv("QUIRE_REQUIRE_"+name) == "1" {
			t.Fatalf("QUIRE_REQUIRE_%s=1 but QUIRE_TEST_%s (%s) is not set: run %s", name, name, what, start)
		}
		t.Skipf("QUIRE_TEST_%s is not set (%s; %s)", name, what, start)
	}
	return a
}
