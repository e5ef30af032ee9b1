package directory

import (
	"slices"
	"testing"
)

// TestGroupsResolve: a mailHost names a group, or a host of one (any
// case, with or without a port); anything else, and "", resolve to no
// group. Hosts keep the configured order, without ports.
func TestGroupsResolve(t *testing.T) {
	g := NewGroups(map[string][]string{"east": {"a1.example.org:4790", "A2.example.org"}, "west": {"b1.example.org"}})
	for _, tc := range []struct {
		mailHost, group string
		ok              bool
	}{
		{"east", "east", true}, {"west", "west", true}, {"a1.example.org", "east", true}, {"a2.EXAMPLE.org", "east", true},
		{"b1.example.org:143", "west", true}, {"north", "", false}, {"", "", false}, {"East", "", false},
	} {
		if got, ok := g.Resolve(tc.mailHost); got != tc.group || ok != tc.ok {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tc.mailHost, got, ok, tc.group, tc.ok)
		}
	}
	if h := g.Hosts("east"); !slices.Equal(h, []string{"a1.example.org", "A2.example.org"}) {
		t.Errorf("Hosts(east) = %q", h)
	}
	if n := g.Names(); !slices.Equal(n, []string{"east", "west"}) {
		t.Errorf("Names() = %q", n)
	}
}
