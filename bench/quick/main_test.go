package main

import (
	"strings"
	"testing"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

func TestTargetOfLongestPrefix(t *testing.T) {
	for name, want := range map[string]float64{
		"lmtp embedded 1 rcpt":                     3,
		"lmtp embedded 5 rcpt":                     8,
		"search embedded/dovecot BODY köln":        10,
		"imap embedded":                            3,
		"search embedded/dovecot-xapian BODY köln": 0, // no target: Xapian is compared, not held
	} {
		got, ok := targetOf(name)
		if ok != (want > 0) || got.min != want {
			t.Errorf("targetOf(%q) = %v, %v; want min %v", name, got, ok, want)
		}
	}
}

func TestSummaryCountsMissedAndUnmeasured(t *testing.T) {
	var b strings.Builder
	all := benchkit.Ratios{"lmtp embedded 1 rcpt": 3.4, "lmtp embedded 5 rcpt": 2.0, "imap embedded": 3.1}
	// lmtp 5 rcpt is below 8; pop3 ran and gave no figure; search did not run.
	missed := summary(&b, all, map[string]bool{"lmtp": true, "imap": true, "pop3": true})
	if missed != 2 {
		t.Errorf("missed = %d, want 2; table:\n%s", missed, b.String())
	}
	for _, row := range []string{
		"| lmtp embedded 1 rcpt | 3.40 | ≥ 3.0 | met |",
		"| pop3 embedded | not measured | ≥ 1.5 | **missed** |",
	} {
		if !strings.Contains(b.String(), row+"\n") {
			t.Errorf("table lacks row %q:\n%s", row, b.String())
		}
	}
	if strings.Contains(b.String(), "search") {
		t.Errorf("a benchmark that did not run has rows:\n%s", b.String())
	}
}
