package mbox

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// parsed is a scanned and parsed message, for comparing.
type parsed struct {
	Sender string
	Date   time.Time
	Body   string
	Flags  []string
	Pseudo bool
}

func scanAll(t *testing.T, data string, q Quoting) []parsed {
	t.Helper()
	msgs, err := Scan(bytes.NewReader([]byte(data)), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out []parsed
	for _, m := range msgs {
		p := Parse([]byte(data[m.Start:m.End]), q)
		out = append(out, parsed{m.Sender, m.Date, string(p.Body), p.Flags, p.Pseudo})
	}
	return out
}

func TestScanVariants(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
	}
	for _, tc := range []struct {
		name string
		data string
		q    Quoting
		want []parsed
	}{{
		name: "mboxrd, Dovecot's status headers",
		data: "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n" +
			"X-IMAPbase: 1700000000 3 work\nStatus: RO\nX-Status: AF\nX-Keywords: work $Important\nX-UID: 1\nContent-Length: 5\nSubject: one\n\n>From here\n>>From there\n\n" +
			"From a@example.test Sat Jan  3 01:05:34 1996\nSubject: two\nStatus: O\nX-Status: DT\n\nbody\n\n",
		want: []parsed{
			{"MAILER-DAEMON", utc(2011, 7, 8, 12, 8, 34), "Subject: one\n\nFrom here\n>From there\n", []string{`\Seen`, `\Answered`, `\Flagged`, "work", "$Important"}, false},
			{"a@example.test", utc(1996, 1, 3, 1, 5, 34), "Subject: two\n\nbody\n", []string{`\Deleted`, `\Draft`}, false},
		},
	}, {
		name: "mboxo keeps >>From",
		data: "From x Mon Jan  1 00:00:00 2001\nSubject: o\n\n>From here\n>>From there\n\n",
		q:    MboxO,
		want: []parsed{{"x", utc(2001, 1, 1, 0, 0, 0), "Subject: o\n\nFrom here\n>>From there\n", nil, false}},
	}, {
		name: "honoured Content-Length holds an unquoted From line",
		data: "From x Mon Jan  1 00:00:00 2001\nContent-Length: 23\n\nline\n\nFrom inside body\n\n" +
			"From y Mon Jan  1 00:00:01 2001\n\nsecond\n\n",
		want: []parsed{
			{"x", utc(2001, 1, 1, 0, 0, 0), "\nline\n\nFrom inside body\n", nil, false},
			{"y", utc(2001, 1, 1, 0, 0, 1), "\nsecond\n", nil, false},
		},
	}, {
		name: "wrong Content-Length is ignored",
		data: "From x Mon Jan  1 00:00:00 2001\nContent-Length: 3\n\nline\n\nFrom y Mon Jan  1 00:00:01 2001\n\nsecond\n\n",
		want: []parsed{
			{"x", utc(2001, 1, 1, 0, 0, 0), "\nline\n", nil, false},
			{"y", utc(2001, 1, 1, 0, 0, 1), "\nsecond\n", nil, false},
		},
	}, {
		name: "zones, no seconds, Thunderbird's sender, CRLF, From_ line without an empty line before",
		data: "From - Tue Feb  3 04:05:06 2004 +0200\r\nA: 1\r\n\r\nx\r\n\r\n" +
			"From b@c Wed Mar 4 05:06 2005\nB: 2\n\ny\n" +
			"From d@e Thu Apr  5 06:07:08 CET 2006\nC: 3\n\nbody\nFrom what\n\n",
		want: []parsed{
			{"-", time.Date(2004, 2, 3, 4, 5, 6, 0, time.FixedZone("", 7200)), "A: 1\r\n\r\nx\r\n", nil, false},
			{"b@c", utc(2005, 3, 4, 5, 6, 0), "B: 2\n\ny\n", nil, false},
			{"d@e", time.Date(2006, 4, 5, 6, 7, 8, 0, time.FixedZone("CET", 0)), "C: 3\n\nbody\nFrom what\n", nil, false},
		},
	}, {
		name: "folded keywords, the pseudo message, an unparsable date",
		data: "From MAILER_DAEMON Wed Jan  1 00:00:00 2020\nX-IMAP: 1 2\nSubject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nhi\n\n" +
			"From q someday\nX-Keywords: a,\n b\n  c\nSubject: k\n\n",
		want: []parsed{
			{"MAILER_DAEMON", utc(2020, 1, 1, 0, 0, 0), "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n\nhi\n", nil, true},
			{"q", time.Time{}, "Subject: k\n", []string{"a", "b", "c"}, false},
		},
	}, {
		name: "Dovecot's: no quoting taken off; the file's last line end is the mbox's",
		data: "From x Mon Jan  1 00:00:00 2001\nA: 1\n\n>From here\nbye\n",
		q:    NoQuoting,
		want: []parsed{{"x", utc(2001, 1, 1, 0, 0, 0), "A: 1\n\n>From here\nbye", nil, false}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := scanAll(t, tc.data, tc.q)
			for i := range got {
				if i < len(tc.want) && got[i].Date.Equal(tc.want[i].Date) {
					got[i].Date = tc.want[i].Date
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, tc.want)
			}
		})
	}
}

func TestScanRefusesNonMbox(t *testing.T) {
	for _, data := range []string{"", "Subject: hi\n\nFrom x Mon Jan  1 00:00:00 2001\n"} {
		if _, err := Scan(bytes.NewReader([]byte(data)), int64(len(data))); err != ErrNotMbox {
			t.Errorf("Scan(%q): %v, want ErrNotMbox", data, err)
		}
	}
}

// FuzzScan checks that Scan and Parse take any bytes without panicking,
// and that the messages lie in order inside the file.
func FuzzScan(f *testing.F) {
	f.Add([]byte("From a Mon Jan  1 00:00:00 2001\nContent-Length: 2\n\nx\n\nFrom b Mon Jan  1 00:00:00 2001\nStatus: RO\n X\n\n>From y\n"))
	f.Add([]byte("From \n\nFrom \r\nX-Keywords: a\n\tb,c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := Scan(bytes.NewReader(data), int64(len(data)))
		if err != nil && err != ErrNotMbox {
			t.Fatal(err)
		}
		last := int64(0)
		for _, m := range msgs {
			if m.Start < last || m.End < m.Start || m.End > int64(len(data)) {
				t.Fatalf("message %+v out of order or outside the file (%d bytes, previous end %d)", m, len(data), last)
			}
			last = m.End
			for _, q := range []Quoting{MboxRD, MboxO, NoQuoting} {
				p := Parse(data[m.Start:m.End], q)
				if len(p.Body) > int(m.End-m.Start) {
					t.Fatalf("parsed body longer than the message")
				}
			}
		}
	})
}

func TestParseSubscriptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"V\t2\n\nLists\tgo\nINBOX\n&AOQ-pfel\n", []string{"Lists/go", "INBOX", "&AOQ-pfel"}},
		{"Lists/go\nArchive\n\n//bad\n", []string{"Lists/go", "Archive"}},
		{"", nil},
	} {
		if got := ParseSubscriptions([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSubscriptions(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzParseSubscriptions checks that no file panics the parser and that
// every name it returns has levels.
func FuzzParseSubscriptions(f *testing.F) {
	f.Add([]byte("V\t2\n\nLists\tgo\nINBOX\n"))
	f.Add([]byte("a/b\n\n/x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, n := range ParseSubscriptions(data) {
			if n == "" || strings.HasPrefix(n, "/") || strings.HasSuffix(n, "/") || strings.Contains(n, "//") {
				t.Fatalf("name %q has an empty level", n)
			}
		}
	})
}
