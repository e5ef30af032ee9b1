package mail

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestFlags(t *testing.T) {
	f := NewFlags(`\seen`, "Work", `\SEEN`, "work", "", `\Flagged`)
	if len(f) != 3 || !f.Has(`\Seen`) || !f.Has("WORK") || f.Has(`\Deleted`) {
		t.Fatalf("NewFlags: %v", f)
	}
	if f[0] != `\Flagged` || f[1] != `\Seen` || f[2] != "Work" {
		t.Fatalf("canonical order/spelling: %v", f)
	}
	if g := f.Minus(Flags{"work"}).Union(Flags{`\Draft`}); !g.Equal(NewFlags(`\Draft`, `\Flagged`, `\Seen`)) {
		t.Fatalf("Minus/Union: %v", g)
	}
}

func TestUnavailable(t *testing.T) {
	base := errors.New("timeout")
	err := Unavailable("op", base)
	if !Temporary(err) || !errors.Is(err, base) {
		t.Fatalf("Unavailable lost identity: %v", err)
	}
	if Temporary(ErrOverQuota) || Unavailable("x", nil) != nil {
		t.Fatal("Temporary misclassifies")
	}
	if errors.Is(err, ErrNoSpace) {
		t.Fatalf("a timeout is a full disk: %v", err)
	}
}

// TestUnavailableNoSpace: a full disk, however deep in the chain, is
// ErrNoSpace as well as temporary, and wrapping again keeps both.
func TestUnavailableNoSpace(t *testing.T) {
	enospc := &os.PathError{Op: "write", Path: "/data/tmp/x", Err: syscall.ENOSPC}
	for _, err := range []error{
		Unavailable("put body", enospc),
		Unavailable("deliver", Unavailable("put body", enospc)),
		Unavailable("deliver", fmt.Errorf("commit: %w", enospc)),
	} {
		if !Temporary(err) || !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%v: temporary %v, no space %v", err, Temporary(err), errors.Is(err, ErrNoSpace))
		}
	}
}
