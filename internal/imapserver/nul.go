package imapserver

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/quiremail/quire/internal/message"
)

// A message is stored byte for byte (DESIGN.md 3.5), NUL bytes included:
// APPEND with a literal8 (RFC 3516 4.4) or an LMTP delivery may bring
// them. RFC 9051 4.3 forbids NUL in an ordinary literal, and only BINARY
// answers in literal8 (RFC 3516 4.2), so BODY[...], RFC822 and
// BODYSTRUCTURE serve such a message converted, as Dovecot serves what it
// converted at APPEND:
//
//   - a part without children whose body holds a NUL is sent base64
//     encoded, in lines of 76 characters, its Content-Transfer-Encoding
//     field replaced by "base64" (added if it had none);
//   - any other NUL (in a header block, a preamble or an epilogue) is sent
//     as 0x80, as Dovecot does for NULs it did not convert.
//
// The converted message is built per FETCH and scanned again, so that
// BODYSTRUCTURE, RFC822.SIZE and every section agree with what BODY[]
// returns. BINARY[] decodes the stored bytes, which are the original
// content. Its size is bounded by the stored message's (the APPEND and
// LMTP size limits) times 4/3.

// cteBase64 replaces a converted part's Content-Transfer-Encoding field.
const cteBase64 = "Content-Transfer-Encoding: base64\r\n"

// convertNUL returns the converted form of the message raw of size bytes
// whose structure is root.
func convertNUL(raw io.ReaderAt, size int64, root *message.Part) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(int(size + size/3 + 256))
	cv := nulConverter{raw: raw, out: &out}
	end, err := cv.part(root, 0)
	if err == nil {
		err = cv.copy(end, size)
	}
	if err != nil {
		return nil, fmt.Errorf("imap: convert a message with NUL bytes: %w", err)
	}
	return out.Bytes(), nil
}

type nulConverter struct {
	raw io.ReaderAt
	out *bytes.Buffer
}

// read returns raw[from:to].
func (cv *nulConverter) read(from, to int64) ([]byte, error) {
	if to <= from {
		return nil, nil
	}
	b := make([]byte, to-from)
	n, err := cv.raw.ReadAt(b, from)
	if err != nil && (err != io.EOF || n == 0) {
		return nil, err
	}
	return b[:n], nil
}

// copy writes raw[from:to] with NUL bytes sent as 0x80.
func (cv *nulConverter) copy(from, to int64) error {
	b, err := cv.read(from, to)
	if err != nil {
		return err
	}
	for i, c := range b {
		if c == 0 {
			b[i] = 0x80
		}
	}
	cv.out.Write(b)
	return nil
}

// part writes p from from (where the previous output stopped, at most
// p.HeaderStart) and returns the raw offset it stopped at.
func (cv *nulConverter) part(p *message.Part, from int64) (int64, error) {
	if err := cv.copy(from, p.HeaderStart); err != nil {
		return 0, err
	}
	if p.BodyNUL && len(p.Parts) == 0 {
		hdr, err := cv.read(p.HeaderStart, p.BodyStart)
		if err != nil {
			return 0, err
		}
		body, err := cv.read(p.BodyStart, p.End)
		if err != nil {
			return 0, err
		}
		writeBase64Header(cv.out, hdr)
		writeBase64Lines(cv.out, body)
		return p.End, nil
	}
	at := p.HeaderStart
	for _, c := range p.Parts {
		next, err := cv.part(c, at)
		if err != nil {
			return 0, err
		}
		at = next
	}
	return p.End, cv.copy(at, p.End)
}

// writeBase64Header writes a header block with its Content-Transfer-Encoding
// fields (and their continuation lines) replaced by one saying base64, where
// the first was, or before the blank line that ends the block.
func writeBase64Header(out *bytes.Buffer, hdr []byte) {
	var lines [][]byte
	for len(hdr) > 0 {
		i := bytes.IndexByte(hdr, '\n') + 1
		if i == 0 {
			i = len(hdr)
		}
		lines, hdr = append(lines, hdr[:i]), hdr[i:]
	}
	blank := len(lines) // the blank line that ends the block, if any
	if blank > 0 && len(bytes.TrimRight(lines[blank-1], "\r\n")) == 0 {
		blank--
	}
	written, skipping := false, false
	for i, l := range lines {
		if i == blank {
			break
		}
		if skipping && (l[0] == ' ' || l[0] == '\t') {
			continue
		}
		skipping = false
		if name, _, ok := bytes.Cut(l, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Content-Transfer-Encoding")) {
			skipping = true
			if !written {
				out.WriteString(cteBase64)
				written = true
			}
			continue
		}
		for _, c := range l {
			if c == 0 {
				c = 0x80
			}
			out.WriteByte(c)
		}
		if l[len(l)-1] != '\n' {
			out.WriteString("\r\n") // a last field without its line break
		}
	}
	if !written {
		out.WriteString(cteBase64)
	}
	out.WriteString("\r\n")
}

// writeBase64Lines writes b base64 encoded in lines of 76 characters (RFC
// 2045 6.8), the last without a line break: the line break before a
// following delimiter belongs to the delimiter (RFC 2046 5.1.1).
func writeBase64Lines(out *bytes.Buffer, b []byte) {
	const perLine = 57 // input bytes of a 76-character line
	for i := 0; i < len(b); i += perLine {
		if i > 0 {
			out.WriteString("\r\n")
		}
		chunk := b[i:min(i+perLine, len(b))]
		enc := make([]byte, base64.StdEncoding.EncodedLen(len(chunk)))
		base64.StdEncoding.Encode(enc, chunk)
		out.Write(enc)
	}
}
