package indexer

import (
	"bytes"
	"context"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/store"
)

// convertNow converts the attachments of delivered messages into the
// converter's cache (isc.mode = "immediate"), waiting at most
// DeliveryWait: past it the conversion goes on in the background, within
// the converter's per-part timeout, and the pipeline's document reads the
// cache, or joins the conversion under way (convert's flights). Messages
// without attachments cost one row read: their text is decoded when
// their document is built.
func (s *Service) convertNow(ctx context.Context, mb store.Mailbox, uids []mail.UID) {
	if s.o.Converter == nil || len(uids) == 0 {
		return
	}
	var rows []store.MessageRow
	err := s.o.Store.Messages(ctx, mb, uids[0], uids[len(uids)-1], func(r store.MessageRow) error {
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return // the pipeline reads them again, and converts then
	}
	var todo []store.MessageRow
	for _, r := range rows {
		if root, err := message.Unmarshal(r.Meta.Structure); err != nil || convert.HasAttachments(root) {
			todo = append(todo, r)
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
				// Only the attachments: their text goes to the cache,
				// and the pipeline decodes the rest when it builds the
				// document (building the whole document here cost the
				// reply the decoding of every text part, twice over).
				raw, root, err := s.read(bg, mb, r)
				if err != nil {
					s.log.Debug("indexer: converting a delivery failed; the pipeline tries again", "mailbox", mb.ID, "uid", r.UID, "err", err)
					continue
				}
				if root == nil {
					if root, err = message.Scan(bytes.NewReader(raw), message.Limits{}); err != nil {
						continue // unparseable: the pipeline indexes what is there
					}
				}
				s.o.Converter.Attachments(bg, raw, root)
			}
			return nil
		}, "mailbox", mb.ID)
	}()
	t := time.NewTimer(s.o.DeliveryWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.stats.late.Add(1)
	case <-ctx.Done():
	}
}
