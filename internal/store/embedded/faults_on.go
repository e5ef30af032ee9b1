//go:build quirefaults

package embedded

import "sync/atomic"

// Faults are the test-only fault switches of a Backend. They exist only in
// a build with the quirefaults tag (go test -tags quirefaults); the
// production build's hooks are constants (faults_off.go). Tests that need
// them live in files with the same tag and are named TestFault*, which
// scripts/test.sh runs.
type Faults struct {
	// SyncBeforeRename fsyncs a body file's directory before renaming the
	// file into it instead of after: a wrong write order, after which the
	// body's entry is not durable when PutBlob returns, so a crash can keep
	// the commit that points at the body and lose the body. It proves that
	// the crash test catches a wrong write order.
	SyncBeforeRename bool
}

type faults struct{ p atomic.Pointer[Faults] }

// SetFaults replaces the backend's fault switches.
func (b *Backend) SetFaults(f Faults) { b.fault.p.Store(&f) }

func (f *faults) get() Faults {
	if p := f.p.Load(); p != nil {
		return *p
	}
	return Faults{}
}

func (f *faults) syncBeforeRename() bool { return f.get().SyncBeforeRename }
