package testkit

import (
	"reflect"
	"strings"
	"testing"
)

const tablesPage = `<!DOCTYPE html><html><head><meta charset="utf-8"><style>td{x:1}</style></head><body>
<table id="a"><thead><tr><th>name</th><th>value</th></tr></thead>
<tbody><tr class="bad"><th> one </th><td>1 &amp; <b>2</b></td></tr>
<tr><th>nested</th><td><table id="inner"><tr><td>x</td></tr></table></td></tr></tbody></table>
<table><tr><td>no id</td></tr></table>
<table id="empty"></table><br><p>text</body></html>`

// TestHTMLTables reads the tables with ids, their cells' text (entities
// decoded, inline markup dropped, spaces collapsed); a table inside a
// cell adds no rows to the outer one, only its text to the cell (as the
// DOM's textContent would).
func TestHTMLTables(t *testing.T) {
	got, err := HTMLTables(strings.NewReader(tablesPage))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][][]string{
		"a":     {{"name", "value"}, {"one", "1 & 2"}, {"nested", "x"}},
		"empty": {},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("HTMLTables:\n got %q\nwant %q", got, want)
	}
}

// FuzzHTMLTables: any input gives tables or an error, never a panic.
func FuzzHTMLTables(f *testing.F) {
	f.Add(tablesPage)
	f.Add(`<table id="x"><tr><td>a</tr></table>`)
	f.Add(`<table id=x><tr><th>&nbsp;</table></table></tr>`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = HTMLTables(strings.NewReader(s))
	})
}
