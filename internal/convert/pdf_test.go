package convert

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"
)

// makePDF writes a PDF with one page per text.
func makePDF(t testing.TB, pages ...string) []byte {
	t.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetFont("Helvetica", "", 12)
	for _, text := range pages {
		p.AddPage()
		p.MultiCell(0, 6, text, "", "L", false)
	}
	var buf bytes.Buffer
	if err := p.Output(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPDF: words keep their boundaries, pages come in order, and a broken
// PDF gives an error with the file name.
func TestPDF(t *testing.T) {
	c := New(Options{})
	defer c.Close()
	ctx := context.Background()
	data := makePDF(t, "The quarterly zeppelin report is attached.", "Second page mentions aubergines and fjords.")
	t0 := time.Now()
	r := c.Convert(ctx, "application/pdf", "", "report.pdf", data)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	t.Logf("first PDF (engine start included) in %v", time.Since(t0))
	for _, w := range []string{"quarterly zeppelin report", "aubergines and fjords", "report.pdf"} {
		if !strings.Contains(r.Text, w) {
			t.Errorf("PDF text %q lacks %q", r.Text, w)
		}
	}
	if strings.Index(r.Text, "zeppelin") > strings.Index(r.Text, "aubergines") {
		t.Errorf("pages out of order: %q", r.Text)
	}
	t0 = time.Now()
	if r := c.Convert(ctx, "", "", "again.pdf", data); r.Err != nil {
		t.Fatal(r.Err)
	}
	t.Logf("second PDF in %v", time.Since(t0))
	for _, bad := range [][]byte{[]byte("%PDF-1.4 garbage"), data[:len(data)/2], nil} {
		if r := c.Convert(ctx, "application/pdf", "", "broken.pdf", bad); r.Err == nil || r.Text != "broken.pdf" {
			t.Errorf("a broken PDF: %q, %v", r.Text, r.Err)
		}
	}
}

// TestPDFEngineStartIsNotThePartsTime: compiling the engine takes seconds
// (more on a busy host); it must not count against the first PDF's time
// limit, or the first PDF after a start would lose its text.
func TestPDFEngineStartIsNotThePartsTime(t *testing.T) {
	c := New(Options{Timeout: 2 * time.Second})
	defer c.Close()
	t0 := time.Now()
	r := c.Convert(context.Background(), "application/pdf", "", "first.pdf", makePDF(t, "fjord zeppelin"))
	if r.Err != nil || !strings.Contains(r.Text, "fjord zeppelin") {
		t.Fatalf("the first PDF (engine start included, %v): %q, %v", time.Since(t0), r.Text, r.Err)
	}
}

// TestPDFEngineCache: with EngineCache, the first start writes the
// compiled engine there and a later start (a new Converter, as after a
// restart) converts from it.
func TestPDFEngineCache(t *testing.T) {
	dir := t.TempDir()
	data := makePDF(t, "The cached engine reads walruses.")
	for i := range 2 {
		c := New(Options{EngineCache: dir})
		t0 := time.Now()
		r := c.Convert(context.Background(), "application/pdf", "", "w.pdf", data)
		t.Logf("start %d: first PDF in %v", i, time.Since(t0))
		c.Close()
		if r.Err != nil || !strings.Contains(r.Text, "walruses") {
			t.Fatalf("start %d: %q, %v", i, r.Text, r.Err)
		}
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			t.Fatalf("start %d: the engine cache %s is empty (%v)", i, dir, err)
		}
	}
}
