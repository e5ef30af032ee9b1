package convert

import (
	"slices"
	"testing"
)

func TestHeaderValues(t *testing.T) {
	raw := []byte("From foo@bar Mon Jan  2 15:04:05 2006\r\n" +
		"Received: from a\r\n\tby b\r\n" +
		"X-Tag: one\r\n" +
		"Subject : folded\r\n  twice\r\n" +
		"x-tag:two  \r\n" +
		"bad line\r\n" +
		" continuation of bad line\r\n" +
		"Empty:\r\n" +
		"\r\n" +
		"X-Tag: in the body\r\n")
	tests := []struct {
		name string
		want []string
	}{
		{"X-TAG", []string{"one", "two"}},
		{"subject", []string{"folded  twice"}},
		{"Received", []string{"from a\tby b"}},
		{"Empty", []string{""}},
		{"From", nil},
		{"bad line", nil},
		{"Missing", nil},
	}
	for _, tt := range tests {
		if got := HeaderValues(raw, tt.name); !slices.Equal(got, tt.want) {
			t.Errorf("HeaderValues(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
	lf := []byte("A: 1\nB: 2\n 3\n\nA: 4\n")
	if got := HeaderValues(lf, "b"); !slices.Equal(got, []string{"2 3"}) {
		t.Errorf("LF header: %q", got)
	}
}
