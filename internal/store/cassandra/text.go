package cassandra

import (
	"context"
	"time"
)

// GetText implements store.Backend: the conversion cache, ms_cache's
// parts_text, whose rows expire after Options.CacheTTL (the table's
// default_time_to_live).
func (b *Backend) GetText(ctx context.Context, hash []byte) (kind, text string, ok bool, err error) {
	ok, err = b.get(ctx, b.cache, "read converted text", b.q.textGet, []any{hash}, &kind, &text)
	return kind, text, ok, err
}

// PutText implements store.Backend.
func (b *Backend) PutText(ctx context.Context, hash []byte, kind, text string) error {
	return b.exec(ctx, b.cache, b.write, "write converted text", b.q.textPut, hash, kind, text, time.Now().UTC())
}
