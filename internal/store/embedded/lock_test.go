package embedded_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quiremail/quire/internal/store/embedded"
)

// TestRefusedOpenLeavesTmpAlone: a second Open of a directory in use (an
// admin command while quire serve runs, or one waiting for the server to
// start) must not remove the owner's files in tmp/, where a delivery
// writes a body before renaming it into blobs/. A refused Open removed
// them, before it knew the directory was in use.
func TestRefusedOpenLeavesTmpAlone(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	inflight := filepath.Join(dir, "tmp", "0123abcd-inflight")
	if err := os.WriteFile(inflight, []byte("a body being written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.Open(dir, embedded.Options{}); !errors.Is(err, embedded.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if _, err := os.Stat(inflight); err != nil {
		t.Fatalf("the owner's temporary file after a refused Open: %v", err)
	}
}

// TestOpenClearsStaleTmp: the Open that gets the directory removes what a
// crashed owner left in tmp/.
func TestOpenClearsStaleTmp(t *testing.T) {
	dir := t.TempDir()
	b, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tmp", "0123abcd-stale")
	if err := os.WriteFile(stale, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.Close()
	open(t, dir)
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("a stale temporary file after Open: %v, want it removed", err)
	}
}
