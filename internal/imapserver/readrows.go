package imapserver

import (
	"context"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// readRows calls fn for each message of the selected mailbox with lo <=
// UID <= hi, in UID order. light rows come from the store's States and
// hold only UID, MODSEQ and flags: what FETCH FLAGS and a SEARCH on flags
// need, without reading and decoding every message's metadata.
func (c *conn) readRows(ctx context.Context, lo, hi mail.UID, light bool, fn func(store.MessageRow) error) error {
	st, mb := c.srv.opts.Store, c.sel.mb
	if !light {
		return st.Messages(ctx, mb, lo, hi, fn)
	}
	return st.States(ctx, mb, lo, hi, func(s store.MessageState) error {
		return fn(store.MessageRow{UID: s.UID, ModSeq: s.ModSeq, Flags: s.Flags})
	})
}
