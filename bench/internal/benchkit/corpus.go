package benchkit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Corpus is the benchmarks' mail, from bench/corpus/gen_mbox.py: each
// message with CRLF line endings, ending in CRLF.
type Corpus struct {
	Msgs    [][]byte
	AvgSize float64 // bytes
}

// LoadCorpus runs bench/corpus/gen_mbox.py for n messages and splits the
// mbox it writes. The generator is deterministic: the same n gives the
// same messages on every machine, so the mbox is kept in
// .cache/corpus/ under the generator's hash and n (100,000 messages take
// the generator five minutes); dir is where it is written first.
func LoadCorpus(ctx context.Context, root string, n int, dir string) (*Corpus, error) {
	gen := filepath.Join(root, "bench", "corpus", "gen_mbox.py")
	src, err := os.ReadFile(gen)
	if err != nil {
		return nil, fmt.Errorf("the corpus generator: %w", err)
	}
	sum := sha256.Sum256(src)
	cached := filepath.Join(root, ".cache", "corpus", fmt.Sprintf("%x-%d.mbox", sum[:6], n))
	if _, err := os.Stat(cached); err != nil {
		mbox := filepath.Join(dir, "corpus.mbox")
		out, err := exec.CommandContext(ctx, "python3", gen, fmt.Sprint(n), mbox).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("%s: %v\n%s", gen, err, out)
		}
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
			return nil, err
		}
		if err := copyFile(mbox, cached); err != nil {
			return nil, err
		}
	}
	raw, err := os.ReadFile(cached)
	if err != nil {
		return nil, err
	}
	msgs := SplitMbox(raw)
	if len(msgs) != n {
		return nil, fmt.Errorf("%s: expected %d messages, split %d", cached, n, len(msgs))
	}
	c := &Corpus{}
	total := 0
	for _, m := range msgs {
		crlf := ToCRLF(m)
		total += len(crlf)
		c.Msgs = append(c.Msgs, crlf)
	}
	c.AvgSize = float64(total) / float64(len(msgs))
	return c, nil
}

// copyFile copies src to dst through a temporary name, so that dst is
// whole or absent.
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// SplitMbox splits an mboxrd (or mboxo) file into messages with LF line
// endings: a line starting with "From " begins a message and is dropped,
// ">From ", ">>From " and so on lose one '>', and the blank line that
// separates a message from the next "From " line is dropped.
func SplitMbox(b []byte) [][]byte {
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

// ToCRLF rewrites every line ending as CRLF and makes sure the message ends
// with one.
func ToCRLF(m []byte) []byte {
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

// DotStuff doubles a leading '.' on every line of a CRLF message and appends
// the DATA terminator (RFC 5321 4.5.2), for LMTP and SMTP.
func DotStuff(m []byte) []byte {
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
