package directory

import (
	"net"
	"slices"
	"strings"
)

// Groups are the store affinity groups (store.storehostlist): each group's
// name and its access hosts, in the configured order. A user's mailHost
// names a group or one of its hosts; Resolve says which group that is.
// The proxy routes by it, and an access host refers a user of another
// group (RFC 2221) by it.
//
// Invariants: a host belongs to one group (config validation refuses
// others); host names compare without case; a group's hosts keep the
// configured order, which is the order the proxy tries them in.
type Groups struct {
	hosts   map[string][]string // group → host names (no port), in order
	groupOf map[string]string   // lower-case host name → group
}

// NewGroups returns the groups of a storehostlist: group name → entries,
// each a host name with an optional :port (the notifier's), dropped here.
func NewGroups(list map[string][]string) Groups {
	g := Groups{hosts: map[string][]string{}, groupOf: map[string]string{}}
	for name, entries := range list {
		for _, e := range entries {
			h := e
			if host, _, err := net.SplitHostPort(e); err == nil {
				h = host
			}
			g.hosts[name] = append(g.hosts[name], h)
			g.groupOf[strings.ToLower(h)] = name
		}
	}
	return g
}

// Resolve returns the group a mailHost names: the group of that name, or
// the group holding the host of that name (a :port is ignored). ok is
// false for "" and for a name no group defines.
func (g Groups) Resolve(mailHost string) (group string, ok bool) {
	if mailHost == "" {
		return "", false
	}
	if _, ok := g.hosts[mailHost]; ok {
		return mailHost, true
	}
	h := mailHost
	if host, _, err := net.SplitHostPort(mailHost); err == nil {
		h = host
	}
	group, ok = g.groupOf[strings.ToLower(h)]
	return group, ok
}

// Hosts returns a group's host names in the configured order; nil for an
// unknown group.
func (g Groups) Hosts(group string) []string { return g.hosts[group] }

// Names returns the group names, sorted.
func (g Groups) Names() []string {
	names := make([]string, 0, len(g.hosts))
	for n := range g.hosts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
