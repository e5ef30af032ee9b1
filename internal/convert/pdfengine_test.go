package convert

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// engineCache is the compiled engine the engine's tests share: the first
// compiles it (half a minute under -race), the others load it.
var engineCache string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quire-convert-engine-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	engineCache = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// formBomb writes a PDF of a few KB whose one page draws form 1, which
// draws form 2 fan times, and so on levels deep, the last form showing a
// word: fan^levels words to lay out (8^6 kept a core busy for 8 s and
// asked PDFium's memory for 2 GiB before the engine had bounds).
func formBomb(levels, fan int) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) { offs = append(offs, b.Len()); b.WriteString(s) }
	stream := func(num int, dict, content string) {
		obj(fmt.Sprintf("%d 0 obj << %s /Length %d >> stream\n%s\nendstream endobj\n", num, dict, len(content), content))
	}
	b.WriteString("%PDF-1.4\n")
	obj("1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n")
	obj("2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n")
	obj("3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /X 6 0 R >> >> >> endobj\n")
	stream(4, "", "/X Do")
	obj("5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\n")
	for i := levels; i >= 0; i-- {
		num := 6 + levels - i
		if i == 0 {
			stream(num, "/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >>", "BT /F1 1 Tf 1 1 Td (w) Tj ET")
			continue
		}
		stream(num, fmt.Sprintf("/Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /XObject << /Y %d 0 R >> >>", num+1),
			strings.Repeat("/Y Do ", fan))
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer << /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, x)
	return b.Bytes()
}

// convertPDF converts data as a PDF attachment named name.
func convertPDF(c *Converter, name string, data []byte) Result {
	return c.Convert(context.Background(), "application/pdf", "", name, data)
}

// TestPDFEngineReused: PDFs, good and damaged, are converted one after
// another by one instance; starting one for each cost every PDF PDFium's
// initialisation and 18 MiB of fresh memory.
func TestPDFEngineReused(t *testing.T) {
	c := New(Options{EngineCache: engineCache})
	defer c.Close()
	for i := range 4 {
		word := fmt.Sprintf("walrus%d", i)
		if r := convertPDF(c, "w.pdf", makePDF(t, word)); r.Err != nil || !strings.Contains(r.Text, word) {
			t.Fatalf("PDF %d: %q, %v", i, r.Text, r.Err)
		}
		if r := convertPDF(c, "broken.pdf", []byte(fmt.Sprintf("%%PDF-1.4 not really %d", i))); r.Err == nil {
			t.Fatalf("a damaged PDF converted: %q", r.Text)
		}
	}
	if n := c.pdfium.mem.started(); n != 1 {
		t.Errorf("8 PDFs in a row started %d engine instances, want 1", n)
	}
	if use := c.pdfium.mem.inUse(); use == 0 || use > keepMemory {
		t.Errorf("the kept instance holds %d bytes, want some and at most %d", use, keepMemory)
	}
}

// TestPDFMemoryBound: a PDF that needs more than MaxPDFMemory fails
// like any damaged PDF, its instance is closed and its memory returned,
// and the next PDF converts on a new instance.
func TestPDFMemoryBound(t *testing.T) {
	c := New(Options{MaxPDFMemory: 64 << 20, Timeout: time.Minute, EngineCache: engineCache})
	defer c.Close()
	if r := convertPDF(c, "first.pdf", makePDF(t, "before the bomb")); r.Err != nil {
		t.Fatal(r.Err)
	}
	r := convertPDF(c, "bomb.pdf", formBomb(6, 8))
	if r.Err == nil || r.Text != "bomb.pdf" {
		t.Fatalf("a PDF needing more than 64 MiB: %q, %v; want its name and an error", r.Text, r.Err)
	}
	if use := c.pdfium.mem.inUse(); use != 0 {
		t.Errorf("after the failed PDF the engine holds %d bytes, want 0 (its instance closed)", use)
	}
	if r := convertPDF(c, "after.pdf", makePDF(t, "after the bomb")); r.Err != nil || !strings.Contains(r.Text, "after the bomb") {
		t.Fatalf("the PDF after: %q, %v", r.Text, r.Err)
	}
	if n := c.pdfium.mem.started(); n != 2 {
		t.Errorf("%d instances started, want 2 (the failed one not reused)", n)
	}
}

// TestPDFDeadlineStopsEngine: at a part's deadline PDFium's code stops
// within the call in progress (its checks, and its memory refusing to
// grow once freed). Before, the kill took effect only between calls, and
// this PDF returned 5 s after a 200 ms deadline.
func TestPDFDeadlineStopsEngine(t *testing.T) {
	const timeout = 200 * time.Millisecond
	c := New(Options{Timeout: timeout, MaxPDFMemory: 1 << 30, EngineCache: engineCache})
	defer c.Close()
	if r := convertPDF(c, "first.pdf", makePDF(t, "engine started")); r.Err != nil {
		t.Fatal(r.Err) // the engine's start is not the part's time
	}
	t0 := time.Now()
	r := convertPDF(c, "bomb.pdf", formBomb(6, 8))
	took := time.Since(t0)
	if r.Err == nil || !strings.Contains(r.Err.Error(), "deadline") {
		t.Fatalf("a PDF past its deadline: %q, %v; want a deadline error", r.Text, r.Err)
	}
	if took > timeout+time.Second {
		t.Errorf("a PDF with a %v deadline returned after %v: the engine ran on", timeout, took)
	}
	if use := c.pdfium.mem.inUse(); use != 0 {
		t.Errorf("after the kill the engine holds %d bytes, want 0", use)
	}
	if r := convertPDF(c, "after.pdf", makePDF(t, "after the kill")); r.Err != nil || !strings.Contains(r.Text, "after the kill") {
		t.Fatalf("the PDF after the kill: %q, %v", r.Text, r.Err)
	}
}

// FuzzPDFEngine converts arbitrary bytes as a PDF on an engine that
// keeps its instance from one PDF to the next, then a known PDF: whatever
// the first did to the instance (damaged input, a trap, memory past the
// bound, the deadline), the second converts to exactly its text, and the
// first's text is valid UTF-8.
func FuzzPDFEngine(f *testing.F) {
	good := makePDF(f, "The quarterly zeppelin report.")
	f.Add(makePDF(f, "fjord aubergine walrus"))
	f.Add(formBomb(3, 4))
	f.Add(good[:len(good)/2])
	f.Add([]byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"))
	c := New(Options{Timeout: 2 * time.Second, MaxPDFMemory: 64 << 20, EngineCache: engineCache})
	f.Cleanup(c.Close)
	want := convertPDF(c, "good.pdf", good)
	if want.Err != nil || !strings.Contains(want.Text, "quarterly zeppelin report") {
		f.Fatalf("the known PDF: %q, %v", want.Text, want.Err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := convertPDF(c, "fuzz.pdf", data)
		if !utf8.ValidString(r.Text) {
			t.Errorf("invalid UTF-8 from a PDF: %q", r.Text)
		}
		if got := convertPDF(c, "good.pdf", good); got.Err != nil || got.Text != want.Text {
			t.Fatalf("the known PDF after the fuzzed one (%v): %q, %v; want %q", r.Err, got.Text, got.Err, want.Text)
		}
	})
}
