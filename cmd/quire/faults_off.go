//go:build !quirefaults

package main

import (
	"log/slog"

	"github.com/quiremail/quire/internal/store/cassandra"
)

// testFaults sets a backend's test-only fault switches from the
// environment in a build with the quirefaults tag (faults_on.go). This is
// the production build: it has no switches, so there is nothing to set,
// and no environment variable can turn UID safety off.
func testFaults(*cassandra.Backend, *slog.Logger) {}
