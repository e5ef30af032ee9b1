package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/klippa-app/go-pdfium"
	"github.com/klippa-app/go-pdfium/requests"
	"github.com/klippa-app/go-pdfium/webassembly"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"

	"github.com/quiremail/quire/internal/supervise"
)

// maxPDFPages bounds the pages read from one PDF.
const maxPDFPages = 2000

// pdfEngine runs PDFium compiled to WebAssembly in wazero: pure Go, no cgo,
// and a sandbox with no file system, so a hostile PDF can reach nothing but
// its own memory. PDFium's text extraction keeps word boundaries, which
// searching needs. The engine starts on first use (compiling the module
// takes a few seconds) and serves one conversion at a time per instance.
type pdfEngine struct {
	cacheDir string // Options.EngineCache
	mu       sync.Mutex
	pool     pdfium.Pool
	cache    wazero.CompilationCache // nil without cacheDir
	err      error
}

// start compiles the engine once. It runs before a part's deadline
// starts: compiling takes seconds (more on a busy host), and that is the
// engine's cost, not the part's.
func (e *pdfEngine) start() (pdfium.Pool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pool == nil && e.err == nil {
		// The features go-pdfium's module needs (its default config):
		// PDFium's setjmp/longjmp became WebAssembly exception handling.
		rc := wazero.NewRuntimeConfig().WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling)
		if e.cacheDir != "" {
			// wazero keys the cache by its own version and the module's
			// hash: an upgrade compiles again, a damaged entry is replaced.
			if cache, err := wazero.NewCompilationCacheWithDir(e.cacheDir); err == nil {
				e.cache, rc = cache, rc.WithCompilationCache(cache)
			}
		}
		e.pool, e.err = webassembly.Init(webassembly.Config{
			MinIdle: 0, MaxIdle: 1, MaxTotal: 2,
			FSConfig:      wazero.NewFSConfig(), // nothing mounted
			RuntimeConfig: rc,
			Stdout:        io.Discard, Stderr: io.Discard,
		})
		if e.err != nil {
			e.err = fmt.Errorf("convert: starting the PDF engine: %w", e.err)
		}
	}
	return e.pool, e.err
}

func (e *pdfEngine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.pool != nil {
		_ = e.pool.Close()
		e.pool = nil
	}
	if e.cache != nil {
		_ = e.cache.Close(context.Background())
		e.cache = nil
	}
}

// pdf extracts the text of every page, pages separated by blank lines.
// Past the deadline the instance is killed, which ends PDFium's work.
func (c *Converter) pdf(ctx context.Context, w *textWriter, pool pdfium.Pool, data []byte) error {
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		return err
	}
	type result struct {
		text string
		err  error
	}
	done := make(chan result, 1)
	go func() { // a panic here would escape extract's recover: Catch carries it back
		var r result
		r.err = supervise.Catch(func() (err error) {
			r.text, err = pdfText(inst, data, w.max)
			return err
		})
		done <- r
	}()
	select {
	case r := <-done:
		_ = inst.Close()
		if r.err != nil {
			return r.err
		}
		w.write(r.text)
		return nil
	case <-ctx.Done():
		_ = inst.Kill()
		<-done
		return ctx.Err()
	}
}

func pdfText(inst pdfium.Pdfium, data []byte, limit int) (string, error) {
	doc, err := inst.FPDF_LoadMemDocument(&requests.FPDF_LoadMemDocument{Data: &data})
	if err != nil {
		return "", fmt.Errorf("convert: PDF: %w", err)
	}
	defer inst.FPDF_CloseDocument(&requests.FPDF_CloseDocument{Document: doc.Document})
	n, err := inst.FPDF_GetPageCount(&requests.FPDF_GetPageCount{Document: doc.Document})
	if err != nil {
		return "", fmt.Errorf("convert: PDF: %w", err)
	}
	var b strings.Builder
	for i := 0; i < min(n.PageCount, maxPDFPages) && b.Len() < limit; i++ {
		t, err := inst.GetPageText(&requests.GetPageText{Page: requests.Page{ByIndex: &requests.PageByIndex{Document: doc.Document, Index: i}}})
		if err != nil {
			if b.Len() > 0 {
				break // keep the pages read
			}
			return "", fmt.Errorf("convert: PDF page %d: %w", i+1, err)
		}
		b.WriteString(strings.ReplaceAll(t.Text, "\r\n", "\n"))
		b.WriteString("\n\n")
	}
	if b.Len() == 0 && n.PageCount > 0 {
		return "", errors.New("convert: PDF has no text (scanned pages need OCR, which Quire does not do)")
	}
	return b.String(), nil
}
