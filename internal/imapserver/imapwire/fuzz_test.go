package imapwire

import (
	"bufio"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{
		"a LOGIN fred secret\r\n", "a SELECT INBOX (QRESYNC (1 2 1:5 (1 5)))\r\n",
		"a UID FETCH 1:* (FLAGS BODY.PEEK[1.HEADER.FIELDS (From)]<0.10>) (CHANGEDSINCE 5 VANISHED)\r\n",
		"a SEARCH RETURN (MIN) CHARSET UTF-8 OR (FROM {3+}\r\nabc) NOT SINCE 1-Jan-2020\r\n",
		"a STORE 1 (UNCHANGEDSINCE 4) +FLAGS.SILENT (\\Seen)\r\n",
		"a LIST (SUBSCRIBED) \"\" (% \"&ZeVnLIqe-\") RETURN (STATUS (MESSAGES))\r\n",
		"a APPEND INBOX (\\Seen) {3+}\r\nabc ~{2+}\r\nxy\r\n", "a SORT (REVERSE DATE) UTF-8 ALL\r\n",
		"a THREAD REFERENCES UTF-8 ALL\r\n", "a ID (\"a\" NIL)\r\n", "a SETQUOTA \"\" (STORAGE 5)\r\n",
		"a CREATE x (USE (\\Sent))\r\na STATUS x (SIZE)\r\n",
	} {
		f.Add(s)
	}
	lim := Limits{MaxLine: 1024, MaxStringLiterals: 1024, MaxLiteral: 4096, MaxLiterals: 8}
	f.Fuzz(func(t *testing.T, in string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := NewReader(bufio.NewReaderSize(strings.NewReader(in), 256), &contRecorder{}, lim)
		for range 20 {
			cmd, err := r.ReadCommand()
			if err != nil {
				var le *LimitError
				if errors.As(err, &le) && le.Fatal || !isParseErr(err) {
					break
				}
				continue
			}
			if a, ok := cmd.Args.(*AppendArgs); ok {
				for m := a.Message; m != nil && err == nil; m, err = r.NextAppend() {
					io.Copy(io.Discard, m.Body)
				}
				continue
			}
			s := cmd.String()
			again, err := NewReader(bufio.NewReader(strings.NewReader(s+"\r\n")), &contRecorder{}, Limits{}).ReadCommand()
			if err != nil {
				t.Fatalf("canonical form %q of %q does not parse: %v", s, in, err)
			}
			if again.String() != s {
				t.Fatalf("canonical form not stable: %q -> %q", s, again.String())
			}
		}
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > uint64(64*len(in)+256<<10) {
			t.Fatalf("%d bytes of input allocated %d bytes", len(in), alloc)
		}
	})
}

func isParseErr(err error) bool {
	var se *SyntaxError
	var le *LimitError
	return errors.As(err, &se) || errors.As(err, &le)
}

func FuzzSeqSet(f *testing.F) {
	for _, s := range []string{"1", "1:*", "*", "$", "5:2,7,9:*", "4294967295"} {
		f.Add(s, uint32(10), uint32(3))
	}
	f.Fuzz(func(t *testing.T, s string, star, n uint32) {
		set, err := ParseSeqSet(s)
		if err != nil {
			return
		}
		again, err := ParseSeqSet(set.String())
		if err != nil || again.String() != set.String() {
			t.Fatalf("%q -> %q does not round-trip", s, set.String())
		}
		star %= 1 << 16
		norm := set.Normalize(star)
		in := false
		for _, r := range norm {
			in = in || (n >= r.Start && n <= r.Stop)
		}
		if n != 0 && set.Contains(n, star) != in {
			t.Fatalf("%q: Contains(%d, %d) disagrees with Normalize %v", s, n, star, norm)
		}
	})
}

func FuzzUTF7(f *testing.F) {
	for _, s := range []string{"&-", "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "Entw&APw-rfe", "&2D3eAA-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeMailbox(s)
		if err == nil {
			// Adjacent shifts ("&AOk-&AOk-") decode, so the encoding is
			// not unique, but it is stable.
			if d2, err := DecodeMailbox(EncodeMailbox(d)); err != nil || d2 != d {
				t.Fatalf("%q -> %q -> %q %v", s, d, d2, err)
			}
		}
		if !strings.ContainsRune(s, 0xfffd) {
			{
				e := EncodeMailbox(s)
				back, err := DecodeMailbox(e)
				if err != nil {
					t.Fatalf("EncodeMailbox(%q) = %q does not decode: %v", s, e, err)
				}
				if strings.ToValidUTF8(s, "\ufffd") != back {
					t.Fatalf("%q -> %q -> %q", s, e, back)
				}
			}
		}
	})
}

// FuzzString: whatever String writes, quoted or literal, reads back as the
// string written (NUL, which IMAP strings cannot hold, as U+FFFD), and a
// quoted form holds only what RFC 9051 4.3 lets a quoted string hold.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", `say "hi" \o/`, "line\r\nbreak", "nul\x00", "caf\xc3\xa9", "bad \xff utf-8", strings.Repeat("x", maxQuoted+1)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, utf bool) {
		var out strings.Builder
		bw := bufio.NewWriter(&out)
		w := NewWriter(bw)
		w.SetUTF8Accept(utf)
		w.String(s)
		w.Flush()
		wire := out.String()
		if strings.HasPrefix(wire, `"`) {
			if strings.ContainsAny(wire, "\x00\r\n") || !utf && strings.ContainsFunc(wire, func(r rune) bool { return r >= 0x80 }) {
				t.Fatalf("quoted %q holds a byte a quoted string cannot", wire)
			}
		}
		cmd, err := NewReader(bufio.NewReader(strings.NewReader("a LOGIN "+wire+" pw\r\n")), &contRecorder{}, Limits{}).ReadCommand()
		if err != nil {
			t.Fatalf("String(%q) wrote %q, which does not parse: %v", s, wire, err)
		}
		if got, want := cmd.Args.(*LoginArgs).Username, strings.ReplaceAll(s, "\x00", "\uFFFD"); got != want {
			t.Fatalf("String(%q) wrote %q, read back as %q", s, wire, got)
		}
	})
}
