package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

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
// its own memory, which mem bounds. PDFium's text extraction keeps word
// boundaries, which searching needs. The engine starts on first use
// (compiling the module takes a few seconds; from isc.engine_cache about
// a tenth of one) and serves one conversion at a time per instance.
// An instance goes back to the pool after a conversion that ended by
// itself while the instances hold at most keepMemory; one that was killed
// at its deadline, panicked, or grew the memory past it is closed. A new
// instance costs its start (PDFium's initialisation, 18 MiB of memory):
// every PDF paid it while none was kept.
type pdfEngine struct {
	cacheDir string // Options.EngineCache
	mem      *engineMemory
	mu       sync.Mutex
	pool     pdfium.Pool
	cache    wazero.CompilationCache // nil without cacheDir
	err      error
	ready    atomic.Bool // start has returned (read without mu: start holds it for its whole run)
}

// keepMemory bounds the memory of the instances kept for the next PDF.
const keepMemory = 64 << 20

// start compiles the engine once. It runs before a part's deadline
// starts: compiling takes seconds (more on a busy host), and that is the
// engine's cost, not the part's.
func (e *pdfEngine) start() (pdfium.Pool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.ready.Store(true)
	if e.pool == nil && e.err == nil {
		// The features go-pdfium's module needs (its default config):
		// PDFium's setjmp/longjmp became WebAssembly exception handling.
		// CloseOnContextDone compiles checks into the code so that a kill
		// stops it within a loop's iteration; without them it ran on to
		// the end of the PDFium call in progress (seconds: a 2 KB PDF of
		// nested forms kept a core busy for 5 s past a 200 ms deadline).
		rc := wazero.NewRuntimeConfig().
			WithCoreFeatures(api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling).
			WithCloseOnContextDone(true)
		if e.cacheDir != "" {
			// wazero keys the cache by its own version and the module's
			// hash: an upgrade compiles again, a damaged entry is replaced.
			if cache, err := wazero.NewCompilationCacheWithDir(e.cacheDir); err == nil {
				e.cache, rc = cache, rc.WithCompilationCache(cache)
			}
		}
		e.pool, e.err = webassembly.Init(webassembly.Config{
			// Instances' memories come from mem; the context is the
			// pool's for its life (go-pdfium derives each instance's).
			Context: experimental.WithMemoryAllocator(context.Background(), e.mem),
			MinIdle: 0, MaxIdle: 1, MaxTotal: 2, ReuseWorkers: true,
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
// Past the deadline the instance is killed, which stops PDFium's code at
// its next check (CloseOnContextDone).
func (c *Converter) pdf(ctx context.Context, w *textWriter, pool pdfium.Pool, data []byte) error {
	inst, err := pool.GetInstanceWithContext(ctx)
	if err != nil {
		return err
	}
	type result struct {
		text     string
		err      error
		panicked bool
	}
	done := make(chan result, 1)
	go func() { // a panic here would escape extract's recover: Catch carries it back
		var r result
		r.err = supervise.Catch(func() (err error) {
			r.text, err = pdfText(inst, data, w.max)
			return err
		})
		var pe *supervise.PanicError
		r.panicked = errors.As(r.err, &pe)
		done <- r
	}()
	select {
	case r := <-done:
		c.pdfium.put(inst, r.panicked || trapped(r.err))
		if r.err != nil {
			return r.err
		}
		w.write(r.text)
		return nil
	case <-ctx.Done():
		// The instance's memory stays mapped until its code has stopped.
		c.pdfium.mem.hold()
		_ = inst.Kill()
		<-done
		c.pdfium.mem.release()
		return ctx.Err()
	}
}

// trapped reports a WebAssembly trap: PDFium aborted (out of memory, an
// assertion) in the middle of its work, and its state may be half
// changed. A PDF it refused (not a PDF, damaged) is an error it returned.
func trapped(err error) bool {
	return err != nil && strings.Contains(err.Error(), "wasm error")
}

// put ends a conversion that returned: the instance goes back to the
// pool for the next PDF, unless it failed in the middle (a panic or a
// trap) or the instances' memory is past keepMemory (PDFium's heap only
// grows).
func (e *pdfEngine) put(inst pdfium.Pdfium, failed bool) {
	if failed || e.mem.inUse() > keepMemory {
		_ = inst.Kill() // closes it instead of pooling it
		return
	}
	_ = inst.Close()
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
