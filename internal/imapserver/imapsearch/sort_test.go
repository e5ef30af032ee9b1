package imapsearch

import (
	"slices"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/message"
)

func sortMailbox(t *testing.T) []Message {
	raws := []string{
		"From: Zed <zed@x>\nTo: amy@x\nCc: mo@x\nSubject: Re: beta\nDate: Tue, 3 Jan 2006 10:00:00 +0000\n\nx\n",
		"From: bob@x\nTo: Carl <carl@x>\nSubject: Alpha\n\nx\n",
		"From: Amy <amy@x>\nTo: bob@x\nCc: al@x\nSubject: [list] alpha\nDate: Tue, 3 Jan 2006 10:00:00 GMT\n\nx\n",
		"From: carl@x\nTo: \"Zed\" <zed@x>\nCc: Bob <bob@x>\nSubject: Gamma\nDate: Tue, 3 Jan 2006 11:00:00 +0100 (CET)\n\nx\n",
	}
	sizes := []int64{300, 100, 300, 200}
	internal := []time.Time{
		date(2006, 1, 10, 0, 0, 0, time.UTC), date(2006, 1, 2, 0, 0, 0, time.UTC),
		date(2006, 1, 1, 0, 0, 0, time.UTC), date(2006, 1, 5, 0, 0, 0, time.UTC),
	}
	var out []Message
	for i, raw := range raws {
		m := newMsg(t, uint32(i+1), raw)
		m.size, m.internal = sizes[i], internal[i]
		out = append(out, m)
	}
	return out
}

// criteria parses the criteria of a SORT command.
func criteria(t *testing.T, list string) []imapwire.SortCriterion {
	t.Helper()
	return command(t, "a SORT ("+list+") UTF-8 ALL").(*imapwire.SortArgs).Criteria
}

func TestSort(t *testing.T) {
	tests := []struct {
		criteria string
		want     []uint32
	}{
		{"ARRIVAL", []uint32{3, 2, 4, 1}},
		{"REVERSE ARRIVAL", []uint32{1, 4, 2, 3}},
		// 1, 3 and 4 were sent at the same instant: sequence order.
		{"DATE", []uint32{2, 1, 3, 4}},
		{"REVERSE DATE", []uint32{1, 3, 4, 2}},
		{"SIZE", []uint32{2, 4, 1, 3}},
		{"REVERSE SIZE", []uint32{1, 3, 4, 2}},
		{"SUBJECT", []uint32{2, 3, 1, 4}},
		{"REVERSE SUBJECT", []uint32{4, 1, 2, 3}},
		{"FROM", []uint32{3, 2, 4, 1}},
		{"TO", []uint32{1, 3, 2, 4}},
		{"CC", []uint32{2, 3, 4, 1}},
		{"REVERSE CC", []uint32{1, 4, 3, 2}},
		{"DISPLAYFROM", []uint32{3, 2, 4, 1}},
		{"DISPLAYTO", []uint32{1, 3, 2, 4}},
		{"SUBJECT REVERSE DATE", []uint32{3, 2, 1, 4}},
		{"SIZE SUBJECT", []uint32{2, 4, 3, 1}},
		{"SIZE DATE ARRIVAL", []uint32{2, 4, 3, 1}},
		{"SIZE REVERSE ARRIVAL", []uint32{2, 4, 1, 3}},
		{"SIZE ARRIVAL", []uint32{2, 4, 3, 1}},
	}
	msgs := sortMailbox(t)
	for _, tt := range tests {
		in := slices.Clone(msgs)
		got := seqs(Sort(in, criteria(t, tt.criteria)))
		if !slices.Equal(got, tt.want) {
			t.Errorf("SORT (%s) = %v, want %v", tt.criteria, got, tt.want)
		}
		if !slices.Equal(seqs(in), []uint32{1, 2, 3, 4}) {
			t.Errorf("SORT (%s) modified its input", tt.criteria)
		}
	}
	// Input order does not matter: ties still go by sequence number.
	rev := slices.Clone(msgs)
	slices.Reverse(rev)
	if got := seqs(Sort(rev, criteria(t, "DATE"))); !slices.Equal(got, []uint32{2, 1, 3, 4}) {
		t.Errorf("SORT (DATE) of reversed input = %v", got)
	}
	if got := Sort(nil, criteria(t, "DATE")); len(got) != 0 {
		t.Errorf("SORT of nothing = %v", got)
	}
}

func TestDisplayName(t *testing.T) {
	tests := []struct {
		as   []message.Address
		want string
	}{
		{[]message.Address{{Name: "=?UTF-8?Q?Zo=C3=AB?=", Mailbox: "z", Host: "x"}}, "Zoë"},
		{[]message.Address{{Name: "  ", Mailbox: "z", Host: "x"}}, "z@x"},
		{[]message.Address{{Mailbox: "grp"}, {Name: "A", Mailbox: "a", Host: "x"}, {}}, "grp"}, // a group sorts by its name (imaptest sort-display-to)
		{[]message.Address{{Mailbox: "local", Host: message.MissingHost}}, "local"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := displayName(tt.as); got != tt.want {
			t.Errorf("displayName(%v) = %q, want %q", tt.as, got, tt.want)
		}
	}
}

func TestSentDate(t *testing.T) {
	msgs := sortMailbox(t)
	if got := SentDate(msgs[1]); !got.Equal(msgs[1].InternalDate()) {
		t.Errorf("no Date: SentDate = %v", got)
	}
	if got := SentDate(msgs[3]); !got.Equal(date(2006, 1, 3, 10, 0, 0, time.UTC)) {
		t.Errorf("Date with comment: SentDate = %v", got)
	}
	for _, s := range []string{"3 Jan 2006 10:00 +0000", "Tue,  3 Jan 2006 10:00:00 +0000 (UTC)", "Tue, 03 Jan 2006 10:00:00 GMT"} {
		if got, ok := parseDate(s); !ok || !got.Equal(date(2006, 1, 3, 10, 0, 0, time.UTC)) {
			t.Errorf("parseDate(%q) = %v, %v", s, got, ok)
		}
	}
	// Without a stored structure the body is scanned.
	m := msgs[3].(*testMsg)
	m.noStructure = true
	if got := SentDate(m); !got.Equal(date(2006, 1, 3, 10, 0, 0, time.UTC)) || m.bodyCalls != 1 {
		t.Errorf("no structure: SentDate = %v after %d body calls", got, m.bodyCalls)
	}
	m.bodyErr = errBody
	if got := SentDate(m); !got.Equal(m.internal) {
		t.Errorf("no structure, no body: SentDate = %v", got)
	}
	if _, ok := parseDate("yesterday"); ok {
		t.Error("parseDate accepted garbage")
	}
}
