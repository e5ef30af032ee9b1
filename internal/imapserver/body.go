package imapserver

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/message"
)

// maxHeaderFilter bounds the header bytes read for HEADER.FIELDS; fields
// beyond it are not returned.
const maxHeaderFilter = 1 << 20

// span is a byte range of the raw message.
type span struct{ off, n int64 }

// sectionSpan resolves a BODY section (RFC 9051 6.4.5) to a byte range of
// the raw message, from the stored part offsets. ok is false when the
// part does not exist.
func sectionSpan(root *message.Part, size int64, sec *imapwire.Section) (sp span, hdr bool, ok bool) {
	clip := func(a, b int64) span {
		a, b = min(max(a, 0), size), min(max(b, 0), size)
		return span{a, max(b-a, 0)}
	}
	p := root
	if len(sec.Part) > 0 {
		if p = root.Find(sec.Part); p == nil {
			return span{}, false, false
		}
	}
	switch sec.Specifier {
	case "":
		if len(sec.Part) == 0 {
			return span{0, size}, false, true
		}
		return clip(p.BodyStart, p.End), false, true
	case "MIME":
		return clip(p.HeaderStart, p.BodyStart), true, true
	}
	// HEADER, HEADER.FIELDS[.NOT], TEXT: of the message itself, or of the
	// message encapsulated in a message/rfc822 part.
	if len(sec.Part) > 0 {
		if !p.IsMessage() {
			return span{}, false, false
		}
		p = p.Parts[0]
	}
	if sec.Specifier == "TEXT" {
		return clip(p.BodyStart, p.End), false, true
	}
	return clip(p.HeaderStart, p.BodyStart), true, true
}

// partial applies <offset.count> to a length (RFC 9051 6.4.5).
func partial(p *imapwire.Partial, n int64) (off, cnt int64) {
	if p == nil {
		return 0, n
	}
	o := int64(min(p.Offset, uint64(n)))
	return o, min(int64(min(p.Count, uint64(1<<62))), n-o)
}

func (c *conn) fetchSection(m *fetchMsg, at imapwire.FetchAtt, item func(string)) error {
	name := "BODY" + at.Section.String()
	if at.Partial != nil {
		name += "<" + strconv.FormatUint(at.Partial.Offset, 10) + ">"
	}
	v, err := m.served()
	if err != nil {
		return err
	}
	item(name + " ")
	sp, _, ok := sectionSpan(v.part, v.size, at.Section)
	if !ok {
		c.w.NIL()
		return nil
	}
	if at.Section.Fields != nil {
		b, err := m.servedBody()
		if err != nil {
			return err
		}
		data, err := filterHeader(io.NewSectionReader(b, sp.off, min(sp.n, maxHeaderFilter)), at.Section.Fields, at.Section.Specifier == "HEADER.FIELDS.NOT")
		if err != nil {
			return err
		}
		off, n := partial(at.Partial, int64(len(data)))
		return c.w.Literal(n, bytes.NewReader(data[off:off+n]), false)
	}
	off, n := partial(at.Partial, sp.n)
	return m.literal(sp.off+off, n)
}

// filterHeader returns the header fields named in fields (or all others
// when not), as they appear, followed by the blank line (RFC 9051 6.4.5).
func filterHeader(r io.Reader, fields []string, not bool) ([]byte, error) {
	var out bytes.Buffer
	br := bufio.NewReader(r)
	keep := false
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if t := bytes.TrimRight(line, "\r\n"); len(t) == 0 {
				break // the blank line ends the header
			}
			if line[0] != ' ' && line[0] != '\t' {
				name := line
				if i := bytes.IndexByte(line, ':'); i >= 0 {
					name = line[:i]
				}
				want := slices.ContainsFunc(fields, func(f string) bool {
					return strings.EqualFold(f, string(bytes.TrimSpace(name)))
				})
				keep = want != not
			}
			if keep {
				out.Write(line)
				if !bytes.HasSuffix(line, []byte("\n")) {
					out.WriteString("\r\n")
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out.WriteString("\r\n")
	return out.Bytes(), nil
}

// fetchBinary: BINARY[part]<partial> and BINARY.SIZE[part] (RFC 3516 4.2,
// 4.3). The content is decoded twice, once to size it and once to send
// it, so memory stays bounded whatever the part's size.
func (c *conn) fetchBinary(m *fetchMsg, at imapwire.FetchAtt, item func(string)) error {
	root := m.structure()
	var p *message.Part
	sp := span{0, m.row.Meta.Size}
	if len(at.Section.Part) > 0 {
		if p = root.Find(at.Section.Part); p == nil {
			item(at.Name + at.Section.String() + " NIL")
			return nil
		}
		sp, _, _ = sectionSpan(root, m.row.Meta.Size, &imapwire.Section{Part: at.Section.Part})
	}
	b, err := m.body()
	if err != nil {
		return err
	}
	open := func() (io.Reader, error) {
		raw := io.NewSectionReader(b, sp.off, sp.n)
		if p == nil {
			return raw, nil
		}
		d, ok := message.TransferDecoder(p.Encoding, raw)
		if !ok {
			return nil, errUnknownCTE
		}
		return d, nil
	}
	d, err := open()
	if err != nil {
		return err
	}
	size, hasNUL, err := measure(d)
	if err != nil {
		return err
	}
	if at.Name == "BINARY.SIZE" {
		item("BINARY.SIZE" + at.Section.String() + " " + strconv.FormatInt(size, 10))
		return nil
	}
	name := "BINARY" + at.Section.String()
	if at.Partial != nil {
		name += "<" + strconv.FormatUint(at.Partial.Offset, 10) + ">"
	}
	item(name + " ")
	off, n := partial(at.Partial, size)
	d, _ = open()
	if _, err := io.CopyN(io.Discard, d, off); err != nil {
		return err
	}
	if err := c.w.Literal(n, d, hasNUL); err != nil {
		return errStreamBroken
	}
	return nil
}

// measure counts decoded bytes and notes a NUL (which needs literal8).
func measure(r io.Reader) (int64, bool, error) {
	buf := make([]byte, 32<<10)
	var n int64
	nul := false
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if !nul && bytes.IndexByte(buf[:k], 0) >= 0 {
			nul = true
		}
		if err == io.EOF {
			return n, nul, nil
		}
		if err != nil {
			return n, nul, nil // undecodable tail: what decoded is the content
		}
	}
}

var errUnknownCTE = &cteError{}

// cteError is BINARY on an encoding it cannot undo: NO [UNKNOWN-CTE] (RFC
// 3516 4.1).
type cteError struct{}

func (*cteError) Error() string { return "unknown content transfer encoding" }
