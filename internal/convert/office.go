package convert

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Word processing, presentation and spreadsheet containers: OOXML (ECMA-376)
// and ODF (OASIS OpenDocument). Both are zip files of XML parts.

// The text-bearing elements of each format (local names).
func docxRules() xmlRules {
	return xmlRules{text: set("t"), breaks: set("p", "br", "tr"), spaces: set("tab", "tc")}
}

func pptxRules() xmlRules { return xmlRules{text: set("t"), breaks: set("p"), spaces: set("tab")} }

func odfRules() xmlRules {
	return xmlRules{text: set("p", "h", "span", "a", "note-body", "list-item"), breaks: set("p", "h", "table-row"),
		spaces: set("s", "tab", "table-cell", "line-break")}
}

// docx extracts the body, then headers, footers, notes and comments.
func docx(w *textWriter, zr *zipReader) error {
	parts := []string{"word/document.xml"}
	parts = append(parts, zr.matching("word/", "header", "footer", "footnotes", "endnotes", "comments")...)
	return zr.extract(w, parts, docxRules(), "word/document.xml")
}

// pptx extracts the slides in order, then the speaker notes.
func pptx(w *textWriter, zr *zipReader) error {
	slides := zr.numbered("ppt/slides/slide")
	notes := zr.numbered("ppt/notesSlides/notesSlide")
	if len(slides) == 0 {
		return errors.New("convert: a PPTX without slides")
	}
	return zr.extract(w, append(slides, notes...), pptxRules(), "")
}

// odf extracts content.xml of an ODT, ODS or ODP.
func odf(w *textWriter, zr *zipReader) error {
	return zr.extract(w, []string{"content.xml"}, odfRules(), "content.xml")
}

// extract runs the rules over each named part; required must exist.
func (zr *zipReader) extract(w *textWriter, names []string, r xmlRules, required string) error {
	for _, name := range names {
		f := zr.file(name)
		if f == nil {
			if name == required {
				return fmt.Errorf("convert: the container lacks %s", name)
			}
			continue
		}
		b, err := zr.read(f)
		if err != nil {
			return err
		}
		if err := xmlText(w, b, r); err != nil {
			return fmt.Errorf("convert: %s: %w", name, err)
		}
		w.newline()
	}
	return nil
}

// matching lists the XML parts directly in dir whose base name starts
// with one of the prefixes, in name order.
func (zr *zipReader) matching(dir string, prefixes ...string) []string {
	var out []string
	for _, f := range zr.z.File {
		if path.Dir(f.Name)+"/" != dir || !strings.HasSuffix(f.Name, ".xml") {
			continue
		}
		base := path.Base(f.Name)
		for _, p := range prefixes {
			if strings.HasPrefix(base, p) {
				out = append(out, f.Name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// numbered lists prefixN.xml parts in numeric order.
func (zr *zipReader) numbered(prefix string) []string {
	type part struct {
		n    int
		name string
	}
	var ps []part
	for _, f := range zr.z.File {
		rest, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(rest, ".xml")
		if n, err := strconv.Atoi(num); ok && err == nil {
			ps = append(ps, part{n, f.Name})
		}
	}
	slices.SortFunc(ps, func(a, b part) int { return a.n - b.n })
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.name
	}
	return out
}

// xlsx extracts every sheet's cells, row by row: shared strings resolved,
// inline strings and numbers as written.
func xlsx(w *textWriter, zr *zipReader) error {
	var shared []string
	if f := zr.file("xl/sharedStrings.xml"); f != nil {
		b, err := zr.read(f)
		if err != nil {
			return err
		}
		if shared, err = sharedStrings(b); err != nil {
			return fmt.Errorf("convert: xl/sharedStrings.xml: %w", err)
		}
	}
	sheets := zr.numbered("xl/worksheets/sheet")
	if len(sheets) == 0 {
		return errors.New("convert: an XLSX without worksheets")
	}
	for _, name := range sheets {
		b, err := zr.read(zr.file(name))
		if err != nil {
			return err
		}
		if err := sheetText(w, b, shared); err != nil {
			return fmt.Errorf("convert: %s: %w", name, err)
		}
		w.newline()
	}
	return nil
}

// sharedStrings reads xl/sharedStrings.xml: each <si> is one string, the
// concatenation of its <t> elements.
func sharedStrings(b []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var out []string
	var cur strings.Builder
	inT := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "si":
				cur.Reset()
			case "t":
				inT = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "si":
				out = append(out, cur.String())
			case "t":
				inT = false
			}
		case xml.CharData:
			if inT && cur.Len() < 1<<20 {
				cur.Write(t)
			}
		}
	}
}

// sheetText writes a worksheet's cells, a row per line.
func sheetText(w *textWriter, b []byte, shared []string) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = false
	var typ string
	var val strings.Builder
	inV := false
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
			switch t.Name.Local {
			case "c":
				typ = ""
				for _, a := range t.Attr {
					if a.Name.Local == "t" {
						typ = a.Value
					}
				}
				val.Reset()
			case "v", "t":
				inV = true
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "v", "t":
				inV = false
			case "c":
				s := val.String()
				if typ == "s" {
					if i, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && i >= 0 && i < len(shared) {
						s = shared[i]
					}
				}
				w.write(s)
				w.space()
			case "row":
				w.newline()
			}
		case xml.CharData:
			if inV && val.Len() < 1<<20 {
				val.Write(t)
			}
		}
	}
	return nil
}
