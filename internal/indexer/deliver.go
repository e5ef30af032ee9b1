package indexer

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/store"
)

// convertNow converts the attachments of delivered messages into the
// converter's cache (isc.mode = "immediate"), waiting at most
// DeliveryWait, and not at all for the PDF engine's start: past it the
// conversion goes on in the background, within the converter's per-part
// timeout, and the pipeline's document waits for it (deliveredBodies). Messages
// without attachments cost nothing here: their text is decoded when their
// document is built. The store hands over the rows it committed; only a
// row without its metadata is read.
func (s *Service) convertNow(ctx context.Context, mb store.Mailbox, added []store.MessageRow) {
	if s.o.Converter == nil || len(added) == 0 {
		return
	}
	rows := added
	if slices.ContainsFunc(added, func(r store.MessageRow) bool { return r.Meta.Structure == nil }) {
		rows = nil
		err := s.o.Store.Messages(ctx, mb, added[0].UID, added[len(added)-1].UID, func(r store.MessageRow) error {
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return // the pipeline reads them again, and converts then
		}
	}
	var todo []store.MessageRow
	engine := false // a conversion would wait for the PDF engine's start
	for _, r := range rows {
		root, err := message.Unmarshal(r.Meta.Structure)
		if err != nil || convert.HasAttachments(root) {
			todo = append(todo, r)
			engine = engine || s.o.Converter.StartsEngine(root)
		}
	}
	if len(todo) == 0 {
		return
	}
	// The delivery's context ends with its reply; the conversion must not.
	bg := context.WithoutCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A panic (a converter bug) is logged and counted; the pipeline
		// converts the message again.
		_ = s.sup.Do("indexer: convert a delivery", func() error {
			for _, r := range todo {
				s.convertDelivered(bg, mb, r)
			}
			return nil
		}, "mailbox", mb.ID)
	}()
	if engine {
		// The engine's start is the process's once, not this delivery's:
		// the first PDFs after a start stalled their connections for
		// 60-90 ms each in bench/lmtp's first seconds. The conversion goes
		// on, and the pipeline's document waits for it.
		s.stats.late.Add(1)
		return
	}
	t := time.NewTimer(s.o.DeliveryWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.stats.late.Add(1)
	case <-ctx.Done():
	}
}

// convertDelivered converts the attachments of one delivered message
// into the converter's cache. Only the attachments: the pipeline decodes
// the rest when it builds the document (building the whole document here
// cost the reply the decoding of every text part, twice over). The
// recipients of one delivery share its body and so its attachments'
// text: the first converts, the others wait for it and skip.
func (s *Service) convertDelivered(ctx context.Context, mb store.Mailbox, r store.MessageRow) {
	b, first := s.bodies.claim(r.Meta.Blob, s.o.Now())
	if !first {
		<-b.done
		return
	}
	defer close(b.done)
	raw, root, err := s.read(ctx, mb, r)
	if err != nil {
		s.log.Debug("indexer: converting a delivery failed; the pipeline tries again", "mailbox", mb.ID, "uid", r.UID, "err", err)
		return
	}
	if root == nil {
		root = message.ScanBytes(raw, message.Limits{})
	}
	text, whole := s.o.Converter.AttachmentsChecked(ctx, raw, root)
	if whole {
		s.bodies.keep(r.Meta.Blob, b, text)
	}
}

// deliveredBodies are the bodies whose attachments a delivery on this
// host converted (or is converting) in the last deliveredFor, so that
// the other recipients of the same body, filed at the same moment, do
// not read, decode and hash it again, and with the text when it converted
// whole, so that the pipeline's document takes it (finding it in the
// converter's cache means decoding and hashing every attachment again:
// a tenth of a delivery's CPU). Expired entries go at most once per
// deliveredFor, and at most maxDeliveredBodies are kept, holding at most
// maxDeliveredText bytes of text: past either a body is converted
// without being remembered (the converter's cache still answers).
type deliveredBodies struct {
	mu    sync.Mutex
	m     map[store.BlobID]*bodyConversion
	prune time.Time
	text  int // bytes of text held
}

type bodyConversion struct {
	done chan struct{} // closed when the conversion is over
	at   time.Time
	// Set before done is closed, under deliveredBodies.mu: the
	// attachments' text when it converted whole and fit.
	text string
	kept bool
}

const (
	// deliveredFor is how long a delivered body is remembered: its
	// recipients are filed concurrently, within one delivery.
	deliveredFor = 10 * time.Second
	// maxDeliveredBodies holds 10 s of deliveries at several thousand a
	// second.
	maxDeliveredBodies = 1 << 15
	// maxDeliveredText bounds the attachments' text held for the
	// pipeline, and maxKeptText one body's share of it.
	maxDeliveredText = 16 << 20
	maxKeptText      = 256 << 10
)

// keep holds the text of the attachments of body id, whose conversion b
// is, for the pipeline, if b is remembered and the text fits.
func (d *deliveredBodies) keep(id store.BlobID, b *bodyConversion, text string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m[id] != b || len(text) > maxKeptText || d.text+len(text) > maxDeliveredText {
		return
	}
	b.text, b.kept = text, true
	d.text += len(text)
}

// attachments returns the text of the body's attachments that a delivery
// converted whole in the last deliveredFor, if it is held. A conversion
// still under way (the reply did not wait for it to the end) is waited
// for, as the converter's flight for the same content would be.
func (d *deliveredBodies) attachments(ctx context.Context, id store.BlobID, now time.Time) (string, bool) {
	d.mu.Lock()
	e, ok := d.m[id]
	d.mu.Unlock()
	if !ok || now.Sub(e.at) >= deliveredFor {
		return "", false
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return e.text, e.kept
}

// claim returns the body's conversion and whether the caller runs it
// (and must close done); otherwise it is under way or done.
func (d *deliveredBodies) claim(id store.BlobID, now time.Time) (*bodyConversion, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.m[id]; ok && now.Sub(e.at) < deliveredFor {
		return e, false
	}
	e := &bodyConversion{done: make(chan struct{}), at: now}
	if d.m == nil {
		d.m = map[store.BlobID]*bodyConversion{}
	}
	if now.Sub(d.prune) >= deliveredFor {
		for k, old := range d.m {
			if now.Sub(old.at) >= deliveredFor {
				d.text -= len(old.text)
				delete(d.m, k)
			}
		}
		d.prune = now
	}
	if old, ok := d.m[id]; ok { // expired
		d.text -= len(old.text)
		delete(d.m, id)
	}
	if len(d.m) < maxDeliveredBodies && id != "" {
		d.m[id] = e
	}
	return e, true
}
