package convert

import (
	"context"
	"testing"
	"unicode/utf8"
)

// FuzzHTMLText: any input gives valid UTF-8 without script or style
// content leaking through tags.
func FuzzHTMLText(f *testing.F) {
	for _, s := range []string{"<p>a<b>b</b></p>", "<script>x</script>y", "<!-- c", "<style", "&amp;&#x1F600;&bogus;", "<a href='>'>t</a>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if out := HTMLText(s); !utf8.ValidString(out) && utf8.ValidString(s) {
			t.Errorf("HTMLText(%q) = %q, not UTF-8", s, out)
		}
	})
}

// FuzzOffice drives the zip guard and every OOXML and ODF extractor, and
// RTF, with arbitrary bytes: no panic (which Convert would turn into an
// error anyway, so the extractors are called directly), valid UTF-8 out.
func FuzzOffice(f *testing.F) {
	f.Add(docxFile(f), "docx")
	f.Add(makeZip(f, [2]string{"xl/sharedStrings.xml", "<sst><si><t>a</t></si></sst>"}, [2]string{"xl/worksheets/sheet1.xml", `<c t="s"><v>0</v></c>`}), "xlsx")
	f.Add(makeZip(f, [2]string{"ppt/slides/slide1.xml", "<a:t>x</a:t>"}), "pptx")
	f.Add(makeZip(f, [2]string{"content.xml", "<text:p>x<text:s/>y</text:p>"}), "odf")
	f.Add([]byte(`{\rtf1 {\*\x y}\'e9\u-4064?\par}`), "rtf")
	f.Fuzz(func(t *testing.T, data []byte, kind string) {
		w := &textWriter{max: 1 << 16, ctx: context.Background()}
		if kind == "rtf" {
			rtf(w, data)
		} else if zr, err := openZip(data, zipLimits{entries: 100, inflated: 1 << 20, ratio: 100}); err == nil {
			switch kind {
			case "docx":
				_ = docx(w, zr)
			case "xlsx":
				_ = xlsx(w, zr)
			case "pptx":
				_ = pptx(w, zr)
			default:
				_ = odf(w, zr)
			}
		}
		if !utf8.ValidString(w.String()) {
			t.Errorf("%s gave invalid UTF-8 %q", kind, w.String())
		}
	})
}
