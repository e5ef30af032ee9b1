package cassandra

import (
	"context"
	"testing"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// TestSchemaUpgradeAddsFence: a keyspace made before the fence columns
// existed (here: the columns dropped again, after a mailbox took a commit)
// gains them when a backend of this release opens it; the mailbox's old
// bucket, its fence null, takes commits, a fence, and commits after it,
// and the user's records take another mailbox.
func TestSchemaUpgradeAddsFence(t *testing.T) {
	ctx := context.Background()
	old := openPrivate(t)
	mb := newMailbox(t, old)
	if _, err := appendOne(ctx, old, mb.ID); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"mblog", "mailboxes"} {
		if err := old.meta.Query("ALTER TABLE " + old.opts.Meta.Name + "." + table + " DROP fence").ExecContext(ctx); err != nil {
			t.Fatalf("drop the fence column of %s: %v", table, err)
		}
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
	// The user's records, their fence null, take another mailbox.
	other := mb
	other.ID, other.Name = randID(), "Sent"
	if err := b.CreateMailbox(ctx, other); err != nil {
		t.Fatalf("CreateMailbox beside a record of the old schema: %v", err)
	}
	if mbs, err := b.ListMailboxes(ctx, mb.UserID); err != nil || len(mbs) != 2 {
		t.Fatalf("mailboxes %+v, %v; want 2", mbs, err)
	}
}
