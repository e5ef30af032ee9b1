package mbox

import (
	"strings"
)

// SubscriptionsFile is where Dovecot keeps the subscriptions of an mbox
// tree, in its root.
const SubscriptionsFile = ".subscriptions"

// ParseSubscriptions reads an mbox tree's subscriptions file: Dovecot
// 2's ("V\t2", an empty line, then one name a line with its levels
// joined by tabs) or the older one (one name a line, levels joined by
// "/", the mbox hierarchy separator). Names come back with levels joined
// by "/" and still in modified UTF-7 where Dovecot wrote them so (the
// caller decodes them as it does file names). Lines it cannot use (an
// empty level, a level holding "/") are left out: a subscription is a
// preference, not mail.
func ParseSubscriptions(data []byte) []string {
	lines := strings.Split(string(data), "\n")
	sep := "/"
	if len(lines) > 0 && strings.TrimSuffix(lines[0], "\r") == "V\t2" {
		lines, sep = lines[1:], "\t"
	}
	var out []string
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		levels := strings.Split(l, sep)
		if l == "" || strings.HasPrefix(l, "V\t") || strings.Contains(l, "\x00") || badLevel(levels, sep) {
			continue
		}
		out = append(out, strings.Join(levels, "/"))
	}
	return out
}

// badLevel reports an empty level, or one holding a "/", which Quire's
// names cannot hold inside a level.
func badLevel(levels []string, sep string) bool {
	for _, l := range levels {
		if l == "" || (sep != "/" && strings.Contains(l, "/")) {
			return true
		}
	}
	return false
}
