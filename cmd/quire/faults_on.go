//go:build quirefaults

package main

import (
	"log/slog"
	"os"

	"github.com/quiremail/quire/internal/store/cassandra"
)

// testFaults sets b's test-only fault switches from the environment. Only
// a binary built with -tags quirefaults has it: the concurrency checker's
// proof that it can fail (go run ./bench/checker -break) builds one.
func testFaults(b *cassandra.Backend, log *slog.Logger) {
	if os.Getenv("QUIRE_TEST_BREAK_UID_ALLOCATION") != "1" {
		return
	}
	log.Error("QUIRE_TEST_BREAK_UID_ALLOCATION=1: UIDs are allocated WITHOUT their lightweight transaction; " +
		"concurrent hosts will lose and duplicate messages. This is for testing the checker only.")
	b.SetFaults(cassandra.Faults{UncheckedUIDs: true})
}
