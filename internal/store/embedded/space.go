package embedded

import (
	"fmt"

	"github.com/quiremail/quire/internal/mail"
)

// Pebble cannot survive a full disk under its write-ahead log: a failed
// log write ends the process (its commit pipeline cannot go on), losing
// nothing acknowledged, but every delivery in flight fails until an
// operator frees space. So new bodies, the bulk of what the store writes,
// are refused while the disk's free space is below Options.MinFree: the
// delivery gets mail.ErrNoSpace (LMTP 452, the MTA retries), and the
// reserve is left to the small writes (flags, expunges, Pebble's
// compactions) that keep the store going. A body file that meets ENOSPC
// nonetheless fails its delivery the same way and leaves nothing behind
// (writeBlobFile).

// checkSpace returns mail.ErrNoSpace (wrapped in mail.ErrUnavailable) if
// the data directory's disk has less than MinFree bytes free. An error
// reading the free space is not a refusal: the write then meets the real
// condition, if any.
func (b *Backend) checkSpace() error {
	if b.opts.MinFree <= 0 {
		return nil
	}
	u, err := b.fs.GetDiskUsage(b.dir)
	if err != nil || u.AvailBytes >= uint64(b.opts.MinFree) {
		return nil
	}
	return mail.Unavailable("embedded: put body",
		fmt.Errorf("%w: %d bytes free in %s, below the reserve of %d (store.minfree): free space or grow the disk",
			mail.ErrNoSpace, u.AvailBytes, b.dir, b.opts.MinFree))
}
