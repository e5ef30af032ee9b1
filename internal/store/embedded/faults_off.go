//go:build !quirefaults

package embedded

// faults holds the test-only fault switches. This is the production build:
// the type is empty and every hook returns a constant, so nothing in
// configuration or environment can turn them on. The switches exist only in
// a build with the quirefaults tag (faults_on.go); internal/lint keeps this
// file's hooks constant.
type faults struct{}

func (*faults) syncBeforeRename() bool { return false }
