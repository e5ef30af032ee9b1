package message

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// crlf turns the LF line ends of a Go literal into CRLF, as on the wire.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func scan(t testing.TB, raw string) *Part {
	t.Helper()
	p, err := Scan(strings.NewReader(raw), Limits{})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	checkInvariants(t, []byte(raw), p, DefaultLimits())
	return p
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// path parses "2.1" into a part number; "" is the message itself.
func path(s string) []int {
	if s == "" {
		return nil
	}
	var p []int
	for _, f := range strings.Split(s, ".") {
		n, _ := strconv.Atoi(f)
		p = append(p, n)
	}
	return p
}

// shape renders the tree's types: "multipart/mixed[text/plain image/png]".
func shape(p *Part) string {
	s := p.Type + "/" + p.Subtype
	if len(p.Parts) > 0 {
		var cs []string
		for _, c := range p.Parts {
			cs = append(cs, shape(c))
		}
		s += "[" + strings.Join(cs, " ") + "]"
	}
	return s
}

// countLines counts lines as IMAP's body-fld-lines: line feeds, plus one
// for a last line without one.
func countLines(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	n := int64(bytes.Count(b, []byte("\n")))
	if b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// checkInvariants verifies what the package doc promises of p, scanned
// from raw with limits lim.
func checkInvariants(t testing.TB, raw []byte, p *Part, lim Limits) {
	t.Helper()
	lim = lim.withDefaults()
	n := int64(len(raw))
	if p.HeaderStart != 0 || p.End != n {
		t.Errorf("root spans [%d,%d), input has %d bytes", p.HeaderStart, p.End, n)
	}
	count := 0
	var walk func(p *Part, depth int, where string, msgRoot bool)
	walk = func(p *Part, depth int, where string, msgRoot bool) {
		count++
		if !(0 <= p.HeaderStart && p.HeaderStart <= p.BodyStart && p.BodyStart <= p.End && p.End <= n) {
			t.Fatalf("part %q: offsets %d %d %d not monotonic within %d", where, p.HeaderStart, p.BodyStart, p.End, n)
		}
		if want := countLines(raw[p.BodyStart:p.End]); p.Lines != want {
			t.Errorf("part %q: Lines %d, body has %d", where, p.Lines, want)
		}
		if p.Type == "" || p.Subtype == "" || p.Encoding == "" {
			t.Errorf("part %q: empty type %q/%q or encoding %q", where, p.Type, p.Subtype, p.Encoding)
		}
		if depth > lim.MaxDepth {
			t.Errorf("part %q: depth %d beyond %d", where, depth, lim.MaxDepth)
		}
		switch {
		case len(p.Parts) == 0:
		case p.IsMessage():
			c := p.Parts[0]
			if c.HeaderStart != p.BodyStart || c.End != p.End {
				t.Errorf("part %q: message [%d,%d) in body [%d,%d)", where, c.HeaderStart, c.End, p.BodyStart, p.End)
			}
		case p.IsMultipart():
			b := "--" + boundaryParam(p)
			prev := p.BodyStart
			for i, c := range p.Parts {
				w := where + "." + strconv.Itoa(i+1)
				if c.HeaderStart < prev || c.End > p.End {
					t.Fatalf("part %q: [%d,%d) outside parent body or overlapping (from %d to %d)", w, c.HeaderStart, c.End, prev, p.End)
				}
				prev = c.End
				// The delimiter line before the part ends with a line break, or
				// at the end of input.
				before := raw[:c.HeaderStart]
				if !bytes.HasSuffix(before, []byte("\n")) && c.HeaderStart != n {
					t.Errorf("part %q: does not start after a line", w)
				} else {
					line := bytes.TrimSuffix(before, []byte("\n"))
					line = line[bytes.LastIndexByte(line, '\n')+1:]
					if string(bytes.TrimRight(line, " \t\r\n")) != b {
						t.Errorf("part %q: preceded by %q, not a delimiter", w, line)
					}
				}
				after := string(raw[c.End:])
				if c.End != p.End && !strings.HasPrefix(after, "\r\n--") && !strings.HasPrefix(after, "\n--") &&
					!((c.End == c.BodyStart || raw[c.End-1] == '\n') && strings.HasPrefix(after, "--")) {
					t.Errorf("part %q: followed by %.20q, not a delimiter", w, after)
				}
			}
		default:
			t.Errorf("part %q: %s/%s has %d parts", where, p.Type, p.Subtype, len(p.Parts))
		}
		if (p.Envelope != nil) != msgRoot {
			t.Errorf("part %q: envelope %v on a part that is a message root: %v", where, p.Envelope != nil, msgRoot)
		}
		for i, c := range p.Parts {
			w := strconv.Itoa(i + 1)
			if where != "" {
				w = where + "." + w
			}
			if p.IsMessage() {
				w = where + ".msg"
			}
			walk(c, depth+1, w, p.IsMessage())
		}
	}
	walk(p, 0, "", true)
	if count > lim.MaxParts {
		t.Errorf("%d parts, limit %d", count, lim.MaxParts)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	q, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !reflect.DeepEqual(p, q) {
		t.Errorf("round trip differs:\n got %+v\nwant %+v", q, p)
	}
}

func mustRead(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}
