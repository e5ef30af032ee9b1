package imapsearch

import "testing"

// TestStateOnly: a program on flags, UIDs, sequence numbers, \Recent and
// MODSEQ reads no message metadata; any other key anywhere in it does.
func TestStateOnly(t *testing.T) {
	for prog, want := range map[string]bool{
		"UNSEEN":                          true,
		"ALL":                             true,
		"OR SEEN (FLAGGED KEYWORD $Junk)": true,
		"NOT DELETED UID 1:100 1:*":       true,
		"NEW MODSEQ 5":                    true,
		"UNSEEN LARGER 10":                false,
		"OR SEEN SUBJECT hello":           false,
		"NOT SINCE 1-Jan-2020":            false,
		"EMAILID M1":                      false,
	} {
		if got := StateOnly(program(t, prog)); got != want {
			t.Errorf("StateOnly(%s) = %v, want %v", prog, got, want)
		}
	}
}
