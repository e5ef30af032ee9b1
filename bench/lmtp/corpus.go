package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// corpus is the benchmark's mail: each message ready for the wire (CRLF line
// endings, dot-stuffed, ending in CRLF "." CRLF) and its size before stuffing.
type corpus struct {
	wire    [][]byte
	avgSize float64
}

// loadCorpus runs shared/corpus/gen_mbox.py for n messages into dir and
// splits the mbox it writes.
func loadCorpus(ctx context.Context, shared string, n int, dir string) (*corpus, error) {
	mbox := filepath.Join(dir, "corpus.mbox")
	gen := filepath.Join(shared, "corpus", "gen_mbox.py")
	out, err := exec.CommandContext(ctx, "python3", gen, fmt.Sprint(n), mbox).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s: %v\n%s", gen, err, out)
	}
	raw, err := os.ReadFile(mbox)
	if err != nil {
		return nil, err
	}
	msgs := splitMbox(raw)
	if len(msgs) != n {
		return nil, fmt.Errorf("%s: expected %d messages, split %d", mbox, n, len(msgs))
	}
	c := &corpus{}
	total := 0
	for _, m := range msgs {
		crlf := toCRLF(m)
		total += len(crlf)
		c.wire = append(c.wire, dotStuff(crlf))
	}
	c.avgSize = float64(total) / float64(len(msgs))
	return c, nil
}

// splitMbox splits an mboxrd (or mboxo) file into messages with LF line
// endings: a line starting with "From " begins a message and is dropped,
// ">From ", ">>From " and so on lose one '>', and the blank line that
// separates a message from the next "From " line is dropped.
func splitMbox(b []byte) [][]byte {
	var msgs [][]byte
	var cur []byte
	inMsg := false
	flush := func() {
		if inMsg {
			msgs = append(msgs, bytes.Clone(trimSeparator(cur)))
		}
		cur = cur[:0]
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i+1], b[i+1:]
		} else {
			b = nil
		}
		if bytes.HasPrefix(line, []byte("From ")) {
			flush()
			inMsg = true
			continue
		}
		if q := bytes.TrimLeft(line, ">"); len(q) < len(line) && bytes.HasPrefix(q, []byte("From ")) {
			line = line[1:]
		}
		cur = append(cur, line...)
	}
	flush()
	return msgs
}

// trimSeparator drops the one blank line an mbox puts before the next "From ".
func trimSeparator(m []byte) []byte {
	if bytes.HasSuffix(m, []byte("\n\n")) {
		return m[:len(m)-1]
	}
	if bytes.HasSuffix(m, []byte("\r\n\r\n")) {
		return m[:len(m)-2]
	}
	return m
}

// toCRLF rewrites every line ending as CRLF and makes sure the message ends
// with one.
func toCRLF(m []byte) []byte {
	lines := bytes.SplitAfter(m, []byte("\n"))
	var out bytes.Buffer
	out.Grow(len(m) + len(m)/40)
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		l = bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r"))
		out.Write(l)
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

// dotStuff doubles a leading '.' on every line of a CRLF message and appends
// the DATA terminator.
func dotStuff(m []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(m) + 8)
	for len(m) > 0 {
		i := bytes.Index(m, []byte("\r\n"))
		line := m[:i+2]
		m = m[i+2:]
		if line[0] == '.' {
			out.WriteByte('.')
		}
		out.Write(line)
	}
	out.WriteString(".\r\n")
	return out.Bytes()
}
