package embedded_test

import (
	"errors"
	"testing"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/store/storetest"
)

func open(t *testing.T, dir string) *embedded.Backend {
	t.Helper()
	b, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) store.Backend { return open(t, t.TempDir()) },
	})
}

func TestSecondOpenIsRefused(t *testing.T) {
	dir := t.TempDir()
	open(t, dir)
	_, err := embedded.Open(dir, embedded.Options{})
	if !errors.Is(err, embedded.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}
