package mail

import (
	"errors"
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
}
