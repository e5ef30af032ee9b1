//go:build !quirefaults

package cassandra

import "context"

// faults is the fault injector of the path to the cluster. This is the
// production build: the type is empty and send only runs the statement, so
// the compiler removes the hook and nothing, in configuration or
// environment, can inject a fault. The injector exists only in a build with
// the quirefaults tag (faults_on.go); internal/lint keeps this file's
// hooks constant or pass-through.
type faults struct{}

func (*faults) send(_ context.Context, _ *Backend, _ sent, run func() (bool, error)) (bool, error) {
	return run()
}
