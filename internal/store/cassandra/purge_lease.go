package cassandra

import (
	"context"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/store"
)

// The background purge's lease (store.PurgeLeaser): one row of
// purge_lease, written by lightweight transactions with a TTL. The holder
// renews it (IF holder = it) before each pass; another host takes it (IF
// NOT EXISTS) once it expired, so one host purges at a time and another
// takes over within the TTL of the holder's end.
const leaseName = "bodies"

// LeasePurge implements store.PurgeLeaser.
func (b *Backend) LeasePurge(ctx context.Context, holder string, ttl time.Duration) (bool, error) {
	secs := max(int64(ttl.Seconds()), 1)
	mine := func(ctx context.Context, c gocql.Consistency) (bool, error) {
		var got string
		err := b.serialGet(ctx, c, b.q.leaseGet, []any{leaseName}, &got)
		if err == gocql.ErrNotFound {
			return false, nil
		}
		return err == nil && got == holder, err
	}
	ok, _, err := b.cas(ctx, "renew the purge lease", b.q.leaseRenew, []any{secs, holder, leaseName, holder}, mine)
	if err != nil || ok {
		return ok, err
	}
	ok, _, err = b.cas(ctx, "take the purge lease", b.q.leaseTake, []any{leaseName, holder, secs}, mine)
	return ok, err
}

var _ store.PurgeLeaser = (*Backend)(nil)
