package message

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

func TestScanEdges(t *testing.T) {
	long := strings.Repeat("x", 3*bufSize+17)
	cases := []scanCase{
		{
			name:   "long lines in header and body",
			raw:    crlf("Subject: " + long + "\n continued\nX-Long: " + long + "\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\n" + long + "\n--b\n\nshort\n--b--\n"),
			shape:  "multipart/mixed[text/plain text/plain]",
			bodies: map[string]string{"1": long, "2": "short"},
			check: func(t *testing.T, p *Part) {
				if p.Envelope.Subject != long+" continued" {
					t.Errorf("subject of %d bytes", len(p.Envelope.Subject))
				}
			},
		},
		{
			name:   "CRLF split across the buffer",
			raw:    "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + strings.Repeat("y", bufSize-1-len("\r\n")) + "\r\n" + strings.Repeat("z", bufSize-1) + "\r\n--b--\r\n",
			shape:  "multipart/mixed[text/plain]",
			bodies: map[string]string{"1": strings.Repeat("y", bufSize-3) + "\r\n" + strings.Repeat("z", bufSize-1)},
		},
		{
			name:   "delimiters with trailing white space, junk is not a delimiter",
			raw:    crlf("Content-Type: multipart/mixed; boundary=\"b \"\n\n--b \t\none\n--bx\n--b junk\n--b\ntwo\n--b--  \nepilogue\n--b\n"),
			shape:  "multipart/mixed[text/plain text/plain]",
			bodies: map[string]string{"1": "one\r\n--bx\r\n--b junk", "2": "two"},
		},
		{
			name:   "no boundary parameter",
			raw:    crlf("Content-Type: multipart/mixed\n\n--b\n\nx\n--b--\n"),
			shape:  "multipart/mixed",
			bodies: map[string]string{"": "--b\r\n\r\nx\r\n--b--\r\n"},
		},
		{
			name:   "mbox From_ line, white space before colon",
			raw:    crlf("From alice@example.com Tue Mar  4 12:00:00 2025\nSubject : hi\nFrom: alice@example.com\n\nbody\n"),
			shape:  "text/plain",
			bodies: map[string]string{"": "body\r\n"},
			check: func(t *testing.T, p *Part) {
				if p.Envelope.Subject != "hi" || len(p.Envelope.From) != 1 {
					t.Errorf("envelope %+v", p.Envelope)
				}
			},
		},
		{
			name:   "part header ended by a delimiter, empty parts, part without header",
			raw:    crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b\n--b\n\n\n--b\nno header here\n--b--"),
			shape:  "multipart/mixed[text/html text/plain text/plain text/plain]",
			bodies: map[string]string{"1": "", "2": "", "3": "", "4": "no header here"},
			heads:  map[string]string{"1": "Content-Type: text/html\r\n", "2": "", "3": "\r\n", "4": ""},
		},
		{
			name:   "outer delimiter ends an unclosed inner multipart",
			raw:    crlf("Content-Type: multipart/mixed; boundary=abc\n\n--abc\nContent-Type: multipart/alternative; boundary=abc-1\n\n--abc-1\n\ninner\n--abc\n\nsecond\n--abc--\n"),
			shape:  "multipart/mixed[multipart/alternative[text/plain] text/plain]",
			bodies: map[string]string{"1.1": "inner", "2": "second", "1": "--abc-1\r\n\r\ninner"},
		},
		{
			name:   "top-level message/rfc822 and message/global",
			raw:    crlf("Subject: outer\nContent-Type: message/rfc822\n\nSubject: middle\nContent-Type: message/global\n\nSubject: inner\n\nhello\n"),
			shape:  "message/rfc822[message/global[text/plain]]",
			bodies: map[string]string{"1": "Subject: middle\r\nContent-Type: message/global\r\n\r\nSubject: inner\r\n\r\nhello\r\n", "1.1": "Subject: inner\r\n\r\nhello\r\n", "1.1.1": "hello\r\n"},
			check: func(t *testing.T, p *Part) {
				if p.Envelope.Subject != "outer" || p.Parts[0].Envelope.Subject != "middle" || p.Parts[0].Parts[0].Envelope.Subject != "inner" {
					t.Errorf("envelopes not on message roots")
				}
			},
		},
		{
			name:  "invalid Content-Type and junk parameters",
			raw:   crlf("Content-Type: text; charset=utf-8\nContent-Transfer-Encoding: (comment) Base64 (more)\nContent-Language: en-US (English), de\n\nx"),
			shape: "text/plain",
			check: func(t *testing.T, p *Part) {
				if p.Param("charset") != "us-ascii" || p.Encoding != "BASE64" || strings.Join(p.Language, ",") != "en-US,de" {
					t.Errorf("%+v", p)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := scan(t, tc.raw)
			if got := shape(p); got != tc.shape {
				t.Errorf("shape %s, want %s", got, tc.shape)
			}
			for n, want := range tc.bodies {
				if q := p.Find(path(n)); q == nil {
					t.Errorf("part %q not found", n)
				} else if got := tc.raw[q.BodyStart:q.End]; got != want {
					t.Errorf("BODY[%s] = %.80q, want %.80q", n, got, want)
				}
			}
			for n, want := range tc.heads {
				if q := p.Find(path(n)); q == nil {
					t.Errorf("part %q not found", n)
				} else if got := tc.raw[q.HeaderStart:q.BodyStart]; got != want {
					t.Errorf("header of %q = %q, want %q", n, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("Content-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 10 {
		b.WriteString("--b\r\n\r\npart\r\n")
	}
	b.WriteString("--b--\r\n")
	raw := b.String()
	lim := Limits{MaxParts: 4}
	p, err := Scan(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, []byte(raw), p, lim)
	if len(p.Parts) != 3 || p.End != int64(len(raw)) || p.Parts[2].End != p.Parts[2].BodyStart+4 {
		t.Errorf("MaxParts: %d parts", len(p.Parts))
	}

	// A chain of encapsulated messages deeper than MaxDepth.
	raw = strings.Repeat("Content-Type: message/rfc822\r\n\r\n", 30) + "end\r\n"
	lim = Limits{MaxDepth: 5}
	p, err = Scan(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, []byte(raw), p, lim)
	if got := shape(p); got != strings.Repeat("message/rfc822[", 5)+"message/rfc822"+strings.Repeat("]", 5) {
		t.Errorf("MaxDepth: %s", got)
	}

	// A header beyond MaxHeaderBytes is skipped, offsets stay right.
	raw = "X-Filler: " + strings.Repeat("f", 1000) + "\r\nSubject: late\r\n\r\nbody\r\n"
	lim = Limits{MaxHeaderBytes: 500}
	p, err = Scan(strings.NewReader(raw), lim)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, []byte(raw), p, lim)
	if p.Envelope.Subject != "" || raw[p.BodyStart:] != "body\r\n" {
		t.Errorf("MaxHeaderBytes: subject %q body %q", p.Envelope.Subject, raw[p.BodyStart:])
	}
}

type failingReader struct{ n int }

func (r *failingReader) Read(b []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(b), r.n)
	for i := range n {
		b[i] = "Subject: x\r\n"[i%12]
	}
	r.n -= n
	return n, nil
}

func TestScanReadError(t *testing.T) {
	if _, err := Scan(&failingReader{n: 100}, Limits{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v", err)
	}
}

// bigMessage streams a multipart message of about size bytes: a text part
// and base64 attachments, never held in memory.
type bigMessage struct {
	size, off int
	pending   string
}

func (m *bigMessage) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if m.pending == "" {
			switch {
			case m.off == 0:
				m.pending = "From: big@example.com\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
			case m.off >= m.size:
				if n == 0 {
					return 0, io.EOF
				}
				return n, nil
			case m.off%(1<<20) < 80:
				m.pending = "--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
			default:
				m.pending = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
			}
			if m.off+len(m.pending) >= m.size && m.off < m.size {
				m.pending += "--XX--\r\n"
			}
		}
		k := copy(b[n:], m.pending)
		m.pending = m.pending[k:]
		m.off += k
		n += k
	}
	return n, nil
}

func TestScanBoundedMemory(t *testing.T) {
	const size = 50 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := Scan(&bigMessage{size: size}, Limits{})
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if p.End < size || len(p.Parts) < 40 {
		t.Errorf("scanned %d bytes, %d parts", p.End, len(p.Parts))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 512<<10 {
		t.Errorf("scanning %d MB allocated %d KB", size>>20, alloc>>10)
	} else {
		t.Logf("scanning %d MB (%d bytes, %d parts) allocated %d KB in total", size>>20, p.End, len(p.Parts), alloc>>10)
	}
}
