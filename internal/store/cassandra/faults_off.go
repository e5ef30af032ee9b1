//go:build !quirefaults

package cassandra

import (
	"context"

	"github.com/quiremail/quire/internal/store"
)

// faults holds the test-only fault switches. This is the production build:
// the type is empty and every hook returns a constant, so the compiler
// removes the hooks and nothing, in configuration or environment, can turn
// them on. The switches exist only in a build with the quirefaults tag
// (faults_on.go); internal/lint keeps this file's hooks constant.
type faults struct{}

func (*faults) skipMaterialize() bool { return false }

func (*faults) serialHead() bool { return false }

func (*faults) pause() {}

func (*faults) beforeCAS() (skip bool, err error) { return false, nil }

func (*faults) beforeSettle() error { return nil }

func (*faults) commitUnchecked(context.Context, *Backend, string, bucketState, store.Head, []entry) (done bool, err error) {
	return false, nil
}
