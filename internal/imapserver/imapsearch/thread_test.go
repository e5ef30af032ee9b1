package imapsearch

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// conv describes one message of a threading test.
type conv struct {
	id, refs, inReplyTo, subject, date string
}

func convMailbox(t *testing.T, cs []conv) []Message {
	var out []Message
	for i, c := range cs {
		var b strings.Builder
		for _, h := range [][2]string{{"Message-ID", c.id}, {"References", c.refs}, {"In-Reply-To", c.inReplyTo}, {"Date", c.date}} {
			if h[1] != "" {
				b.WriteString(h[0] + ": " + h[1] + "\n")
			}
		}
		b.WriteString("Subject: " + c.subject + "\n\nbody\n")
		m := newMsg(t, uint32(i+1), b.String())
		m.internal = date(2006, 12, 31, 0, 0, 0, time.UTC)
		out = append(out, m)
	}
	return out
}

// conversation is a small mailbox with replies, a missing parent, a
// message without an ID, a duplicate ID, a reference loop and threads to
// merge by subject. Dates are "day month hour" for brevity.
var conversation = []conv{
	1:  {"<a@x>", "", "", "Meeting", "1 Jan 10"},
	2:  {"<b@x>", "<a@x>", "", "Re: Meeting", "1 Jan 11"},
	3:  {"<c@x>", "<a@x> <b@x>", "", "Re: Meeting", "1 Jan 12"},
	4:  {"<d@x>", "<missing@x>", "", "Lost parent", "1 Jan 09"},
	5:  {"<e@x>", "<missing@x>", "", "Re: Lost parent", "1 Jan 13"},
	6:  {"<f@x>", "", "<b@x> <zzz@x>", "Re: Meeting", "1 Jan 11:30"},
	7:  {"<g@x>", "", "", "Re: Meeting", "2 Jan 08"},
	8:  {"<h@x>", "", "", "Party", "3 Jan 00"},
	9:  {"<i@x>", "", "", "party", "2 Jan 12"},
	10: {"", "<gone1@x> <gone2@x>", "", "Orphan", "4 Jan 00"},
	11: {"<c@x>", "", "", "Dup", "5 Jan 00"},
	12: {"<j@x>", "<k@x>", "", "Loop", "6 Jan 00"},
	13: {"<k@x>", "<j@x>", "", "Re: Loop", "6 Jan 01"},
	14: {"<l@x>", "", "", "Lost parent", "7 Jan 00"},
	15: {"<m@x>", "", "", "Re: Budget", "8 Jan 00"},
	16: {"<n@x>", "", "", "Budget", "9 Jan 00"},
}

// fixDates turns "1 Jan 11:30" into an RFC 5322 date.
func fixDates(cs []conv) []conv {
	out := slices.Clone(cs[1:])
	for i := range out {
		f := strings.Fields(out[i].date)
		hm := f[2]
		if !strings.Contains(hm, ":") {
			hm += ":00"
		}
		out[i].date = fmt.Sprintf("%s %s 2006 %s:00 +0000", f[0], f[1], hm)
	}
	return out
}

func threadMailbox(t *testing.T) []Message { return convMailbox(t, fixDates(conversation)) }

func bySeq(m Message) uint32 { return m.Seq() }

func TestThreadReferences(t *testing.T) {
	// Derived by hand from RFC 5256 2.2:
	//  - 4 and 5 share the missing <missing@x>; the top-level dummy keeps
	//    both, and 14 (same base subject, not a reply) joins the dummy.
	//  - 2 and 3 hang under 1, 3 under 2 (its last reference); 6 under 2
	//    by In-Reply-To; 7 (no references, "Re: Meeting") is merged under
	//    1 by subject because it is a reply and 1 is not.
	//  - 9 and 8 are both "Party" and not replies: a new dummy holds them.
	//  - 10's references are all missing: the dummies are pruned away.
	//  - 11 repeats 3's Message-ID and is threaded on its own.
	//  - 12 and 13 reference each other: 13 is processed last, and linking
	//    it under 12 would make a loop, so 12 stays under 13.
	//  - 15 "Re: Budget" is older than 16 "Budget", yet goes under it.
	want := "((4)(5)(14))(1 (2 (6)(3))(7))((9)(8))(10)(11)(13 12)(16 15)"
	msgs := threadMailbox(t)
	got := FormatThreads(ThreadReferences(msgs), bySeq)
	if got != want {
		t.Errorf("THREAD REFERENCES\n got %s\nwant %s", got, want)
	}
	// The result does not depend on the order of the input.
	rev := slices.Clone(msgs)
	slices.Reverse(rev)
	if got := FormatThreads(ThreadReferences(rev), bySeq); got != want {
		t.Errorf("THREAD REFERENCES of reversed input\n got %s\nwant %s", got, want)
	}
}

func TestThreadReferencesTree(t *testing.T) {
	msgs := threadMailbox(t)
	roots := ThreadReferences(msgs)
	if len(roots) != 7 {
		t.Fatalf("%d threads, want 7", len(roots))
	}
	d := roots[0]
	if d.Msg != nil || len(d.Children) != 3 || d.Children[0].Msg.Seq() != 4 {
		t.Errorf("first thread is not the dummy over 4, 5 and 14: %+v", d)
	}
	if roots[1].Msg.Seq() != 1 || roots[1].Children[0].Children[1].Msg.Seq() != 3 {
		t.Errorf("second thread is not 1 (2 (6)(3))(7)")
	}
	if FormatThreads(nil, bySeq) != "" || len(ThreadReferences(nil)) != 0 {
		t.Error("threading nothing gives something")
	}
}

func TestThreadOrderedSubject(t *testing.T) {
	// RFC 5256 2.1: grouped by base subject (case-insensitively), the
	// earliest message of each group the parent of the rest, threads in
	// the order of their first message.
	want := "(4 (5)(14))(1 (2)(6)(3)(7))(9 8)(10)(11)(12 13)(15 16)"
	msgs := threadMailbox(t)
	if got := FormatThreads(ThreadOrderedSubject(msgs), bySeq); got != want {
		t.Errorf("THREAD ORDEREDSUBJECT\n got %s\nwant %s", got, want)
	}
	uid := func(m Message) uint32 { return uint32(m.UID()) }
	if got := FormatThreads(ThreadOrderedSubject(msgs[:2]), uid); got != "(10 20)" {
		t.Errorf("THREAD ORDEREDSUBJECT by UID = %s", got)
	}
}

func TestThreadTies(t *testing.T) {
	// Equal sent dates order by sequence number; a missing Date: uses the
	// internal date.
	msgs := convMailbox(t, []conv{
		{"<1@x>", "", "", "Same", "1 Jan 2006 00:00 +0000"},
		{"<2@x>", "", "", "Same", "1 Jan 2006 00:00 +0000"},
		{"<3@x>", "<1@x>", "", "Re: Same", ""},
		{"<4@x>", "<1@x>", "", "Re: Same", "1 Jan 2006 00:00 +0000"},
	})
	if got := FormatThreads(ThreadOrderedSubject(msgs), bySeq); got != "(1 (2)(4)(3))" {
		t.Errorf("ORDEREDSUBJECT ties: %s", got)
	}
	if got := FormatThreads(ThreadReferences(msgs), bySeq); got != "((1 (4)(3))(2))" {
		t.Errorf("REFERENCES ties: %s", got)
	}
}
