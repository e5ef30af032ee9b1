package embedded

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The conversion cache: key "t\0" + content hash; value the expiry (unix
// seconds, uvarint), the converter kind (uvarint length, bytes) and the
// text, zstd-compressed. Expired entries read as missing; PurgeText
// removes them.
func textKey(hash []byte) []byte { return append([]byte("t\x00"), hash...) }

// GetText implements store.Backend.
func (b *Backend) GetText(_ context.Context, hash []byte) (string, string, bool, error) {
	v, ok, err := b.get(textKey(hash))
	if err != nil || !ok {
		return "", "", false, err
	}
	exp, n := binary.Uvarint(v)
	if n <= 0 {
		return "", "", false, errCorrupt
	}
	if time.Now().Unix() >= int64(exp) {
		return "", "", false, nil
	}
	v = v[n:]
	kl, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < kl {
		return "", "", false, errCorrupt
	}
	kind := string(v[n : n+int(kl)])
	text, err := b.dec.DecodeAll(v[n+int(kl):], nil)
	if err != nil {
		return "", "", false, fmt.Errorf("embedded: converted text: %w", err)
	}
	return kind, string(text), true, nil
}

// PutText implements store.Backend. The cache is regenerable, so its
// writes are not synced.
func (b *Backend) PutText(_ context.Context, hash []byte, kind, text string) error {
	v := binary.AppendUvarint(nil, uint64(time.Now().Add(b.opts.TextTTL).Unix()))
	v = binary.AppendUvarint(v, uint64(len(kind)))
	v = append(v, kind...)
	v = b.enc.EncodeAll([]byte(text), v)
	if err := b.db.Set(textKey(hash), v, pebble.NoSync); err != nil {
		return fmt.Errorf("embedded: write converted text: %w", err)
	}
	return nil
}

// PurgeText deletes expired cache entries and returns how many.
func (b *Backend) PurgeText(_ context.Context) (n int, err error) {
	defer func() {
		b.purge.runs.Add(1)
		b.purge.purged.Add(int64(n))
		if err != nil {
			b.purge.failed.Add(1)
		}
	}()
	now := time.Now().Unix()
	p := []byte("t\x00")
	var dead [][]byte
	err = b.scan(p, prefixEnd(p), func(k, v []byte) error {
		if exp, n := binary.Uvarint(v); n <= 0 || now >= int64(exp) {
			dead = append(dead, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	batch := b.db.NewBatch()
	defer batch.Close()
	for _, k := range dead {
		if err := batch.Delete(k, nil); err != nil {
			return 0, err
		}
	}
	if err := batch.Commit(pebble.NoSync); err != nil {
		return 0, err
	}
	return len(dead), nil
}

// PurgeStats are the counts of PurgeText since Open, for the metrics.
type PurgeStats struct {
	Runs, Failed int64 // purges run (scheduled or called), and those that failed
	Purged       int64 // expired entries deleted
}

// PurgeStats returns PurgeText's counts.
func (b *Backend) PurgeStats() PurgeStats {
	return PurgeStats{Runs: b.purge.runs.Load(), Failed: b.purge.failed.Load(), Purged: b.purge.purged.Load()}
}

// purgeTextEvery runs PurgeText every d until Close.
func (b *Backend) purgeTextEvery(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		var n int
		err := b.sup.Do("embedded: purge converted text", func() (err error) {
			n, err = b.PurgeText(context.Background())
			return err
		})
		switch {
		case err != nil:
			b.log.Warn("embedded: purging expired converted text failed; retrying at the next interval", "err", err)
		case n > 0:
			b.log.Info("embedded: purged expired converted text", "entries", n)
		}
	}
}
