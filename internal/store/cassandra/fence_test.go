package cassandra

import (
	"context"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// TestSchemaUpgradeAddsFence: a keyspace made before the fence column
// existed (here: the column dropped again, after a mailbox took a commit)
// gains it when a backend of this release opens it, and the mailbox's old
// bucket, its fence null, takes commits, a fence, and commits after it.
func TestSchemaUpgradeAddsFence(t *testing.T) {
	ctx := context.Background()
	old := openPrivate(t)
	mb := newMailbox(t, old)
	if _, err := appendOne(ctx, old, mb.ID); err != nil {
		t.Fatal(err)
	}
	if err := old.meta.Query("ALTER TABLE " + old.opts.Meta.Name + ".mblog DROP fence").ExecContext(ctx); err != nil {
		t.Fatalf("drop the fence column: %v", err)
	}
	if err := old.meta.AwaitSchemaAgreement(ctx); err != nil {
		t.Fatal(err)
	}
	b := openTest(t, func(o *Options) { o.Meta, o.Msg, o.Cache = old.opts.Meta, old.opts.Msg, old.opts.Cache })
	if _, err := appendOne(ctx, b, mb.ID); err != nil {
		t.Fatalf("a commit to a bucket of the old schema: %v", err)
	}
	if err := b.fence(ctx, gocql.LocalSerial, mb.ID, 0); err != nil {
		t.Fatalf("fence: %v", err)
	}
	if _, err := appendOne(ctx, b, mb.ID); err != nil {
		t.Fatalf("a commit after the fence: %v", err)
	}
	if st, _, err := b.readBucket(ctx, gocql.LocalSerial, mb.ID, 0); err != nil || st.fence != 1 || st.head.Messages != 3 {
		t.Fatalf("bucket %+v, %v; want fence 1 and 3 messages", st, err)
	}
	check(t, b, mb.ID)
}
