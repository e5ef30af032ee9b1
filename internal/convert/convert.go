package convert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/klippa-app/go-pdfium"

	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/supervise"
)

// Options bound every conversion. Zero values take the defaults.
type Options struct {
	MaxInput   int64         // bytes of one part that are read (default 50 MiB); more is cut
	MaxOutput  int           // bytes of text kept per part (default 1 MiB)
	Timeout    time.Duration // per part (default 10 s)
	MaxDepth   int           // nested messages (default 5)
	MaxEntries int           // entries of one zip container (default 2,000)
	MaxInflate int64         // bytes one zip container may inflate to (default 200 MiB)
	MaxRatio   int64         // inflation ratio of one zip entry (default 200)
	// MaxPDFMemory bounds the memory of one PDF engine instance (default
	// 256 MiB; two convert at once): a PDF that needs more fails, as one
	// past its time does.
	MaxPDFMemory int64
	// Hosts are converter services ("quire isc", base URLs), tried in
	// order; without them, or when none answers, conversion is in process.
	Hosts []string
	// HTTP is the client for Hosts (default: one with no overall timeout;
	// each request has the part's Timeout).
	HTTP *http.Client
	// Tika, if set, is an Apache Tika server's base URL, asked (PUT
	// /tika) for the types no extractor here knows, in process only.
	Tika string
	// EngineCache, if set, is a directory where the PDF engine's compiled
	// code is kept, so that only the first start of a version compiles it
	// (seconds of CPU); the others load it. Empty: compiled in memory at
	// the first PDF of every start.
	EngineCache string
	// Cache, if set, keeps converted text by content hash, so an
	// attachment delivered to many recipients, or forwarded, is converted
	// once.
	Cache Cache
	// Logger receives the stack of a panic recovered in an extractor
	// (default: discarded; Stats counts it either way).
	Logger *slog.Logger
}

// Cache keeps converted text by content hash: ms_cache on Cassandra, the
// data directory on the embedded store. Entries expire after the store's
// TTL; a miss only costs a conversion.
type Cache interface {
	GetText(ctx context.Context, hash []byte) (kind, text string, ok bool, err error)
	PutText(ctx context.Context, hash []byte, kind, text string) error
}

// cacheVersion changes when extractors change what they produce, so older
// cached text is not served for new conversions. Version 2 added cached
// failures, which a version-1 reader would take for text.
const cacheVersion = "quire-convert-2"

// Version names what the extractors produce (cacheVersion): anything
// derived from converted text and kept (a phrase filter) is kept under it.
const Version = cacheVersion

// failedPrefix marks a cached failure: its kind is failedPrefix+kind and
// its text the error.
const failedPrefix = "failed:"

// ErrFailedBefore wraps the error of a conversion that failed on the same
// content before, served from the cache.
var ErrFailedBefore = errors.New("convert: failed before on the same content")

// cachedResult is the Result a cache entry stands for.
func cachedResult(kind, text string) Result {
	if k, ok := strings.CutPrefix(kind, failedPrefix); ok {
		return Result{Kind: k, Err: fmt.Errorf("%w: %s", ErrFailedBefore, text), settled: true}
	}
	return Result{Kind: kind, Text: text, settled: true}
}

// cacheKey digests what the text depends on: the extractor, the content,
// and for text kinds the charset. The file name is not part of it.
func cacheKey(kind, charset string, data []byte) []byte {
	h := sha256.New()
	h.Write([]byte(cacheVersion + "\x00" + kind + "\x00" + strings.ToLower(charset) + "\x00"))
	h.Write(data)
	return h.Sum(nil)
}

func (o Options) withDefaults() Options {
	if o.MaxInput <= 0 {
		o.MaxInput = 50 << 20
	}
	if o.MaxOutput <= 0 {
		o.MaxOutput = 1 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 5
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 2000
	}
	if o.MaxInflate <= 0 {
		o.MaxInflate = 200 << 20
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = 200
	}
	if o.MaxPDFMemory <= 0 {
		o.MaxPDFMemory = 256 << 20
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Kinds of content, as statistics and results name them.
const (
	KindText    = "text"
	KindHTML    = "html"
	KindDOCX    = "docx"
	KindXLSX    = "xlsx"
	KindPPTX    = "pptx"
	KindODF     = "odf"
	KindRTF     = "rtf"
	KindMessage = "message"
	KindPDF     = "pdf"
	KindOther   = "other" // no converter: indexed by its name only
	KindTika    = "tika"  // no converter here; Options.Tika converts it
)

// ErrUnsupported reports content no converter handles; the part is then
// indexed by its file name.
var ErrUnsupported = errors.New("convert: no converter for this type")

// Result is one part's text.
type Result struct {
	Kind string
	Text string
	Err  error // why the content could not be converted; Text then holds the file name
	// settled: the same content converts to this again (a text, or a
	// failure the content alone caused), unlike a timeout or a converter
	// host's error.
	settled bool
}

// Converter converts parts within its Options. It is safe for concurrent
// use.
type Converter struct {
	o       Options
	pdfium  *pdfEngine
	stats   *counters
	hosts   *hosts
	flights *flights
}

// New returns a Converter. Close releases its PDF engine.
func New(o Options) *Converter {
	o = o.withDefaults()
	return &Converter{o: o, pdfium: &pdfEngine{cacheDir: o.EngineCache, mem: newEngineMemory(uint64(o.MaxPDFMemory))}, stats: newCounters(), hosts: &hosts{down: map[string]time.Time{}}, flights: &flights{}}
}

// Stats returns the counters since New.
func (c *Converter) Stats() Stats { return c.stats.snapshot() }

// Close stops the PDF engine, if it started.
func (c *Converter) Close() { c.pdfium.close() }

// Kind names the converter for a content type (parameters allowed) and
// file name: the type decides, and for generic types
// (application/octet-stream and the like) the file name's extension.
func Kind(contentType, filename string) string {
	ct, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(contentType)), ";")
	ct = strings.TrimSpace(ct)
	switch ct {
	case "text/html", "application/xhtml+xml":
		return KindHTML
	case "text/rtf", "application/rtf":
		return KindRTF
	case "message/rfc822", "message/global":
		return KindMessage
	case "application/pdf":
		return KindPDF
	case "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
		return KindDOCX
	case "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
		return KindXLSX
	case "application/vnd.openxmlformats-officedocument.presentationml.presentation":
		return KindPPTX
	case "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
		"application/vnd.oasis.opendocument.presentation":
		return KindODF
	}
	if strings.HasPrefix(ct, "text/") {
		return KindText
	}
	switch strings.ToLower(path.Ext(filename)) {
	case ".html", ".htm":
		return KindHTML
	case ".txt", ".csv", ".md", ".log":
		return KindText
	case ".rtf":
		return KindRTF
	case ".eml":
		return KindMessage
	case ".pdf":
		return KindPDF
	case ".docx", ".docm":
		return KindDOCX
	case ".xlsx", ".xlsm":
		return KindXLSX
	case ".pptx", ".pptm":
		return KindPPTX
	case ".odt", ".ods", ".odp":
		return KindODF
	}
	return KindOther
}

// Convert returns the text of one part's content, transfer encoding
// already undone, with the file name first. charset applies to text
// kinds. It never panics on bad input and always returns a Result: on
// failure, Text is the file name.
func (c *Converter) Convert(ctx context.Context, contentType, charset, filename string, data []byte) Result {
	return withName(filename, c.leaf(ctx, contentType, charset, filename, data, 0))
}

func withName(filename string, r Result) Result {
	if r.Err == nil && filename != "" {
		r.Text = filename + "\n" + r.Text
	}
	if r.Err != nil {
		r.Text = filename
	}
	return r
}

// local reports whether a kind is always converted here, neither cached
// nor sent to a converter host: plain text costs less to decode than a
// round trip, and messages and unknown kinds have no converter.
func local(kind string) bool { return kind == KindText || kind == KindMessage || kind == KindOther }

// leaf converts one part without its name: from the cache, else on the
// first live converter host, else here.
func (c *Converter) leaf(ctx context.Context, contentType, charset, filename string, data []byte, depth int) Result {
	kind := Kind(contentType, filename)
	if kind == KindOther && c.o.Tika != "" && len(data) > 0 {
		kind = KindTika
	}
	if int64(len(data)) > c.o.MaxInput {
		data = data[:c.o.MaxInput]
	}
	var key []byte
	if c.o.Cache != nil && !local(kind) {
		key = cacheKey(kind, charset, data)
		if k, text, ok, err := c.o.Cache.GetText(ctx, key); err == nil && ok {
			c.stats.cache(true)
			return cachedResult(k, text)
		}
		// The same content being converted already (a delivery to many
		// recipients at once): wait for that conversion.
		f, leader := c.flights.join(string(key))
		if !leader {
			select {
			case <-f.done:
				c.stats.cache(true)
				return f.res
			case <-ctx.Done():
				return Result{Kind: kind, Err: ctx.Err()}
			}
		}
		defer c.flights.leave(string(key), f)
		// Another leader may have finished between the read above and
		// join: its text is in the cache now, and its flight is gone.
		if k, text, ok, err := c.o.Cache.GetText(ctx, key); err == nil && ok {
			c.stats.cache(true)
			r := cachedResult(k, text)
			c.flights.set(string(key), r)
			return r
		}
		c.stats.cache(false)
	}
	t0 := time.Now()
	r, remote := c.remote(ctx, kind, contentType, charset, filename, data)
	final := false // a failure that the content alone caused
	if !remote {
		r, final = c.extract(ctx, kind, contentType, charset, filename, data, depth)
	}
	r.settled = r.Err == nil || final
	c.stats.converted(kind, len(data), len(r.Text), time.Since(t0), r.Err)
	// A failed write only costs a conversion next time.
	switch {
	case key == nil:
	case r.Err == nil:
		_ = c.o.Cache.PutText(ctx, key, r.Kind, r.Text)
	case final:
		// The same bytes fail the same way: a damaged attachment sent to
		// fifty recipients, or met again by the indexer after delivery,
		// is tried once.
		_ = c.o.Cache.PutText(ctx, key, failedPrefix+r.Kind, r.Err.Error())
	}
	if key != nil {
		c.flights.set(string(key), r)
	}
	return r
}

// flights are the conversions under way, by cache key, so that
// concurrent conversions of the same content happen once.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
}

type flight struct {
	done chan struct{}
	res  Result
}

// join returns the flight for key, and whether the caller leads it (and
// must convert, set and leave).
func (fs *flights) join(key string) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		return f, false
	}
	if fs.m == nil {
		fs.m = map[string]*flight{}
	}
	f := &flight{done: make(chan struct{})}
	fs.m[key] = f
	return f, true
}

func (fs *flights) set(key string, r Result) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if f, ok := fs.m[key]; ok {
		f.res = r
	}
}

// leave ends the flight: waiters get its result.
func (fs *flights) leave(key string, f *flight) {
	fs.mu.Lock()
	delete(fs.m, key)
	fs.mu.Unlock()
	close(f.done)
}

// extract runs the extractor for kind here; on failure Text is empty and
// Err says why, and final reports that the content alone caused it (not
// the time limit, the engine or a bug in an extractor), so that the same
// bytes would fail again.
func (c *Converter) extract(ctx context.Context, kind, contentType, charset, filename string, data []byte, depth int) (res Result, final bool) {
	res.Kind = kind
	var pdfPool pdfium.Pool
	if kind == KindPDF {
		var err error
		if pdfPool, err = c.pdfium.start(); err != nil {
			return Result{Kind: kind, Err: err}, false
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil { // a bug in an extractor must not fail a delivery
			c.panicked(res.Kind, &supervise.PanicError{Value: p, Stack: debug.Stack()})
			res.Text, res.Err, final = "", fmt.Errorf("convert: %s extractor failed: %v", res.Kind, p), false
		}
	}()
	w := &textWriter{max: c.o.MaxOutput, ctx: ctx}
	var err error
	switch res.Kind {
	case KindText:
		w.write(ToUTF8(charset, data))
	case KindHTML:
		w.write(HTMLText(ToUTF8(charset, data)))
	case KindRTF:
		rtf(w, data)
	case KindMessage: // an attached .eml, or a message/rfc822 part given alone
		if depth >= c.o.MaxDepth {
			err = fmt.Errorf("convert: messages nested deeper than %d", c.o.MaxDepth)
			break
		}
		for _, r := range c.message(ctx, data, depth+1) {
			w.write(r.Text)
			w.newline()
		}
	case KindPDF:
		err = c.pdf(ctx, w, pdfPool, data)
	case KindTika:
		err = c.tika(ctx, w, contentType, data)
	case KindDOCX, KindXLSX, KindPPTX, KindODF:
		var zr *zipReader
		if zr, err = openZip(data, zipLimits{entries: c.o.MaxEntries, inflated: c.o.MaxInflate, ratio: c.o.MaxRatio}); err != nil {
			break
		}
		switch res.Kind {
		case KindDOCX:
			err = docx(w, zr)
		case KindXLSX:
			err = xlsx(w, zr)
		case KindPPTX:
			err = pptx(w, zr)
		default:
			err = odf(w, zr)
		}
	default:
		err = fmt.Errorf("%w (%s)", ErrUnsupported, strings.TrimSpace(contentType))
	}
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("convert: %s: gave up after %v: %w", res.Kind, c.o.Timeout, ctx.Err())
	}
	pe, panicked := errors.AsType[*supervise.PanicError](err)
	if panicked { // from an extractor's own goroutine
		c.panicked(res.Kind, pe)
	}
	if err != nil {
		return Result{Kind: res.Kind, Err: err}, ctx.Err() == nil && !panicked
	}
	res.Text = strings.TrimSpace(w.String())
	return res, false
}

// panicked logs and counts a panic recovered in an extractor.
func (c *Converter) panicked(kind string, pe *supervise.PanicError) {
	c.stats.panicked()
	c.o.Logger.Error("internal error: recovered a panic in an extractor", "kind", kind, "panic", pe.Error(), "stack", string(pe.Stack))
}

// Message converts a whole message: for each part, its decoded header
// fields (for the top and for nested messages) and its content. The
// results are in the message's part order.
func (c *Converter) Message(ctx context.Context, raw []byte) []Result {
	return c.message(ctx, raw, 0)
}

// MessageOf is Message for a message the caller has scanned already.
func (c *Converter) MessageOf(ctx context.Context, raw []byte, root *message.Part) []Result {
	return c.walk(ctx, raw, root, 0)
}

func (c *Converter) message(ctx context.Context, raw []byte, depth int) []Result {
	return c.walk(ctx, raw, message.ScanBytes(raw, message.DefaultLimits()), depth)
}

// walk converts the header and every leaf of the message rooted at root.
func (c *Converter) walk(ctx context.Context, raw []byte, root *message.Part, depth int) []Result {
	var out []Result
	var walk func(p *message.Part, depth int)
	walk = func(p *message.Part, depth int) {
		if ctx.Err() != nil {
			return
		}
		switch {
		case p.IsMultipart():
			for _, ch := range p.Parts {
				walk(ch, depth)
			}
		case p.IsMessage():
			// The encapsulated message's header and parts, scanned with
			// the outer one.
			if depth+1 > c.o.MaxDepth {
				out = append(out, Result{Kind: KindMessage, Err: fmt.Errorf("convert: messages nested deeper than %d", c.o.MaxDepth)})
				return
			}
			for _, ch := range p.Parts {
				out = append(out, Result{Kind: "header", Text: headerText(raw, ch)})
				walk(ch, depth+1)
			}
		default:
			name := filename(p)
			out = append(out, withName(name, c.leaf(ctx, p.Type+"/"+p.Subtype, p.Param("charset"), name, c.leafData(raw, p), depth)))
		}
	}
	out = append(out, Result{Kind: "header", Text: headerText(raw, root)})
	walk(root, depth)
	return out
}

// leafData returns a leaf part's content with its transfer encoding undone
// (leniently: a broken encoding gives the raw bytes), at most MaxInput.
func (c *Converter) leafData(raw []byte, p *message.Part) []byte {
	b, _ := decodeBody(bytes.NewReader(raw), p, c.o.MaxInput) // a bytes.Reader does not fail
	return b
}

// filename is a part's file name: the Content-Disposition filename
// parameter, else the Content-Type name parameter (RFC 2183, RFC 2045).
func filename(p *message.Part) string {
	for _, prm := range p.DispositionParams {
		if prm.Name == "filename" {
			return DecodeHeader(prm.Value)
		}
	}
	return DecodeHeader(p.Param("name"))
}

func clamp(n int64, size int) int64 { return max(0, min(n, int64(size))) }

// headerText is the decoded text of the fields people search for in the
// header of the message rooted at p.
func headerText(raw []byte, p *message.Part) string {
	var b strings.Builder
	hdr := raw[clamp(p.HeaderStart, len(raw)):clamp(p.BodyStart, len(raw))]
	for _, line := range strings.Split(unfold(string(hdr)), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "subject", "from", "to", "cc", "bcc", "reply-to", "sender", "comments", "keywords":
			b.WriteString(DecodeHeader(strings.TrimSpace(value)))
			b.WriteByte('\n')
		}
	}
	return strings.TrimSpace(b.String())
}

// Attachments returns the text of the leaves SEARCH's own body decoding
// does not read: every leaf that is neither text/* nor message/*, in
// nested messages too, each preceded by its file name. It is what BODY
// and TEXT add to a message's text parts so that words in attachments
// match (DESIGN.md section 4).
func (c *Converter) Attachments(ctx context.Context, raw []byte, root *message.Part) string {
	text, _ := c.AttachmentsChecked(ctx, raw, root)
	return text
}

// AttachmentsChecked is Attachments, and whether every leaf's result is
// settled (converted, or failed for its content alone; the context not
// done): a text that a later call would give again, which a caller may
// keep in its stead.
func (c *Converter) AttachmentsChecked(ctx context.Context, raw []byte, root *message.Part) (string, bool) {
	var b strings.Builder
	whole := true
	var walk func(p *message.Part, depth int)
	walk = func(p *message.Part, depth int) {
		if ctx.Err() != nil || b.Len() >= MaxText {
			return
		}
		switch {
		case p.IsMultipart():
			for _, ch := range p.Parts {
				walk(ch, depth)
			}
		case p.IsMessage():
			if depth+1 <= c.o.MaxDepth {
				for _, ch := range p.Parts {
					walk(ch, depth+1)
				}
			}
		case p.Type == "text" || p.Type == "message":
		default:
			name := filename(p)
			r := withName(name, c.leaf(ctx, p.Type+"/"+p.Subtype, p.Param("charset"), name, c.leafData(raw, p), depth))
			whole = whole && r.settled
			b.WriteString(r.Text)
			b.WriteByte('\n')
		}
	}
	walk(root, 0)
	return b.String(), whole && ctx.Err() == nil
}

// StartsEngine reports whether converting root's attachments here would
// wait for the PDF engine's start: a PDF among them, no converter host
// to send it to, and the engine not started yet (its start takes a tenth
// of a second from isc.engine_cache, seconds without; once per process).
func (c *Converter) StartsEngine(root *message.Part) bool {
	if len(c.o.Hosts) > 0 || c.pdfium.ready.Load() {
		return false
	}
	var pdf func(p *message.Part) bool
	pdf = func(p *message.Part) bool {
		switch {
		case p == nil:
			return false
		case p.IsMultipart() || p.IsMessage():
			return slices.ContainsFunc(p.Parts, pdf)
		}
		return p.Type != "text" && Kind(p.Type+"/"+p.Subtype, filename(p)) == KindPDF
	}
	return pdf(root)
}

// HasAttachments reports whether Attachments would convert anything.
func HasAttachments(root *message.Part) bool {
	switch {
	case root == nil:
		return false
	case root.IsMultipart() || root.IsMessage():
		for _, ch := range root.Parts {
			if HasAttachments(ch) {
				return true
			}
		}
		return false
	}
	return root.Type != "text" && root.Type != "message"
}
