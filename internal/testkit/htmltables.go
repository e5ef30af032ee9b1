package testkit

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// HTMLTables parses an HTML document (a server's page, or the DOM a
// browser dumped) and returns each table that has an id: its rows, each
// row the whitespace-trimmed text of its th and td cells in order (a
// table inside a cell adds its text to the cell, not rows). Tests
// compare these cells instead of searching the markup for substrings.
// The parser is encoding/xml in its lenient HTML mode (void elements
// closed, HTML entities known), enough for well-formed pages.
func HTMLTables(r io.Reader) (map[string][][]string, error) {
	d := xml.NewDecoder(r)
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	out := map[string][][]string{}
	var (
		table   string // id of the table being read; "" outside one
		depth   int    // nested tables inside it
		row     []string
		inRow   bool
		cell    *strings.Builder
		inStyle bool
	)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("testkit: parse HTML: %w", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			switch name := strings.ToLower(tk.Name.Local); {
			case name == "style" || name == "script":
				inStyle = true
			case name == "table" && table != "":
				depth++
			case name == "table":
				for _, a := range tk.Attr {
					if a.Name.Local == "id" {
						table = a.Value
						out[table] = [][]string{}
					}
				}
			case table != "" && depth == 0 && name == "tr":
				row, inRow = nil, true
			case table != "" && depth == 0 && inRow && (name == "td" || name == "th"):
				cell = new(strings.Builder)
			}
		case xml.EndElement:
			switch name := strings.ToLower(tk.Name.Local); {
			case name == "style" || name == "script":
				inStyle = false
			case name == "table" && depth > 0:
				depth--
			case name == "table":
				table = ""
			case table != "" && name == "tr" && inRow:
				out[table] = append(out[table], row)
				inRow = false
			case table != "" && (name == "td" || name == "th") && cell != nil:
				row = append(row, strings.Join(strings.Fields(cell.String()), " "))
				cell = nil
			}
		case xml.CharData:
			if cell != nil && !inStyle {
				cell.Write(tk)
			}
		}
	}
}
