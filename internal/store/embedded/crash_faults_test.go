//go:build quirefaults

package embedded_test

import (
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/store/embedded"
)

// TestFaultCrashCatchesWrongWriteOrder: with a body file's directory
// synced before the rename instead of after (Faults.SyncBeforeRename), the
// crash test finds an acknowledged message whose body is gone. Without
// this, a crash test that passes would prove nothing.
func TestFaultCrashCatchesWrongWriteOrder(t *testing.T) {
	w := newCrashWorkload()
	points := crashRun(t, w, func(b *embedded.Backend) { b.SetFaults(embedded.Faults{SyncBeforeRename: true}) })
	lost := 0
	for _, p := range points {
		err := w.verify(p)
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "message body missing"):
			lost++
		default:
			t.Errorf("crash before %s: %v, want a missing body or nothing", p.at, err)
		}
	}
	if lost == 0 {
		t.Fatalf("none of %d crash points lost an acknowledged body with the directory synced before the rename", len(points))
	}
	t.Logf("%d of %d crash points lost an acknowledged body", lost, len(points))
}
