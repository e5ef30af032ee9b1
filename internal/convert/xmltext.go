package convert

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// xmlRules say which elements of an XML part carry text. Names are local
// names (the namespace prefix dropped).
type xmlRules struct {
	text   map[string]bool // character data inside these counts; nil: all
	breaks map[string]bool // a line break after each of these ends
	spaces map[string]bool // a space for each of these (tabs, spacers)
}

// xmlText extracts the text of one XML document by the rules, writing at
// most max bytes.
func xmlText(w *textWriter, data []byte, r xmlRules) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = false
	depth := 0 // inside a text element
	for !w.full() {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if r.text != nil && r.text[name] {
				depth++
			}
			if r.spaces[name] {
				w.space()
			}
		case xml.EndElement:
			name := t.Name.Local
			if r.text != nil && r.text[name] && depth > 0 {
				depth--
			}
			if r.breaks[name] {
				w.newline()
			}
		case xml.CharData:
			if r.text == nil || depth > 0 {
				w.write(string(t))
			}
		}
	}
	return nil
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// textWriter accumulates extracted text up to a limit, collapsing runs of
// blank lines.
type textWriter struct {
	b     strings.Builder
	max   int
	trail int             // newlines at the end
	ctx   context.Context // when it ends, the writer counts as full and extraction stops
}

func (w *textWriter) full() bool { return w.b.Len() >= w.max || (w.ctx != nil && w.ctx.Err() != nil) }

func (w *textWriter) write(s string) {
	if s == "" {
		return
	}
	if room := w.max - w.b.Len(); room < len(s) {
		s = strings.ToValidUTF8(s[:max(room, 0)], "")
	}
	w.b.WriteString(s)
	if n := len(s) - len(strings.TrimRight(s, "\n")); n == len(s) {
		w.trail += n
	} else {
		w.trail = n
	}
}

func (w *textWriter) space() {
	if w.b.Len() > 0 && !w.full() {
		w.write(" ")
	}
}

func (w *textWriter) newline() {
	if w.b.Len() > 0 && w.trail < 2 && !w.full() {
		w.write("\n")
	}
}

func (w *textWriter) String() string { return w.b.String() }
