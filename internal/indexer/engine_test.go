package indexer

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-pdf/fpdf"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/search"
)

// withPDF is a message whose word is only in a PDF attachment.
func withPDF(t *testing.T, subject, word string) string {
	t.Helper()
	p := fpdf.New("P", "mm", "A4", "")
	p.SetFont("Helvetica", "", 12)
	p.AddPage()
	p.MultiCell(0, 6, "The "+word+" figures rose.", "", "L", false)
	var pdf bytes.Buffer
	if err := p.Output(&pdf); err != nil {
		t.Fatal(err)
	}
	return "From: b@example.test\r\nSubject: " + subject + "\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" +
		"--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" +
		"--x\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(pdf.Bytes()) + "\r\n--x--\r\n"
}

// TestDeliveryDoesNotWaitForEngineStart: in immediate mode the first PDF
// after a start does not hold its delivery's reply while the PDF engine
// starts (once per process); the conversion goes on, the pipeline waits
// for it and indexes the PDF's words, and the PDF is converted once.
func TestDeliveryDoesNotWaitForEngineStart(t *testing.T) {
	r := newRig(t)
	// The engine compiles from the user's cache as quire serve's does
	// (isc.engine_cache's default), so that the test waits for a load,
	// not a compile; either way the reply must not wait.
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = t.TempDir()
	}
	r.conv = convert.New(convert.Options{Cache: r.st, EngineCache: filepath.Join(dir, "quire", "pdf-engine")})
	t.Cleanup(r.conv.Close)
	s := r.service(Options{DeliveryWait: time.Minute}, true)
	raw := withPDF(t, "statement", "pdfnarwhal")
	sp, err := r.st.Spool(bytes.NewReader([]byte(raw)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !r.conv.StartsEngine(sp.Part) {
		t.Fatal("a fresh converter does not report that a PDF starts its engine")
	}
	sp.Close()
	r.deliver(raw)
	if cs := r.conv.Stats(); cs.Conversions["pdf"] != 0 {
		t.Fatalf("the delivery returned after its PDF was converted (%+v): it waited for the engine's start", cs)
	}
	if st := s.Stats(); st.LateConversions != 1 {
		t.Fatalf("late conversions %d, want 1 (the reply did not wait)", st.LateConversions)
	}
	inbox := r.mailbox("INBOX")
	eventually(t, "the delivery indexed", func() bool { return r.mark(inbox) == 1 })
	if got := r.find(inbox, search.FieldAttachments, "pdfnarwhal"); !slices.Equal(got, []uint32{1}) {
		t.Fatalf("BODY pdfnarwhal: %v", got)
	}
	if cs := r.conv.Stats(); cs.Conversions["pdf"] != 1 || cs.CacheMisses != 1 || cs.CacheHits != 0 {
		t.Fatalf("converter stats %+v: want the PDF converted once, by the delivery, and the pipeline to take its text", cs)
	}
	// Started now: the next PDF's reply waits for its conversion.
	if r.conv.StartsEngine(sp.Part) {
		t.Fatal("the converter still reports that a PDF starts its engine")
	}
	r.deliver(withPDF(t, "second", "pdfwalrus"))
	if cs := r.conv.Stats(); cs.Conversions["pdf"] != 2 {
		t.Fatalf("after the second delivery %+v: its reply did not wait for its PDF", cs)
	}
}
