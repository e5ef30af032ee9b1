package cassandra

import (
	"context"
	"errors"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// newUser is a user record to create, with an address of its own.
func newUser() store.User {
	return store.User{ID: randID(), Address: "u" + randID()[:12] + "@example.org", PasswordHash: "{PLAIN}one",
		QuotaStorage: 1000, QuotaMessages: 10, Created: time.Now().UTC().Truncate(time.Millisecond)}
}

// TestSchemaUpgradeAddsFence: a keyspace made before the fence columns
// existed (here: the columns dropped again, after a mailbox took a commit
// and two users were created as an older release did, by INSERT) gains
// them when a backend of this release opens it; the mailbox's old
// bucket, its fence null, takes commits, a fence, and commits after it,
// and the user's records take another mailbox. The old users' records
// take updates, a fence and an update after it; deleted, the fenced one
// leaves its fence (and the old row marker) but no user, and the other,
// never fenced, no row at all; both addresses can be created again.
func TestSchemaUpgradeAddsFence(t *testing.T) {
	ctx := context.Background()
	old := openPrivate(t)
	mb := newMailbox(t, old)
	if _, err := appendOne(ctx, old, mb.ID); err != nil {
		t.Fatal(err)
	}
	var users [2]store.User
	for i := range users {
		u := newUser()
		if err := old.meta.Query("INSERT INTO "+old.opts.Meta.Name+".users (address, id, password_hash, quota_storage, quota_messages, mailhost, created) VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS",
			u.Address, u.ID, u.PasswordHash, u.QuotaStorage, u.QuotaMessages, u.MailHost, u.Created).ExecContext(ctx); err != nil {
			t.Fatalf("create a user as an older release did: %v", err)
		}
		users[i] = u
	}
	for _, table := range []string{"mblog", "mailboxes", "users"} {
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
	for i, u := range users {
		u.PasswordHash = "{PLAIN}updated"
		if err := b.UpdateUser(ctx, u); err != nil {
			t.Fatalf("UpdateUser of a record of the old schema: %v", err)
		}
		if i == 0 {
			if err := b.fenceUser(ctx, gocql.LocalSerial, u.Address); err != nil {
				t.Fatalf("fenceUser: %v", err)
			}
			u.QuotaMessages++
			if err := b.UpdateUser(ctx, u); err != nil {
				t.Fatalf("UpdateUser after the fence: %v", err)
			}
		}
		if got, err := b.User(ctx, u.Address); err != nil || got.PasswordHash != u.PasswordHash || got.QuotaMessages != u.QuotaMessages {
			t.Fatalf("User after the updates: %+v, %v; want %+v", got, err, u)
		}
		if err := b.DeleteUser(ctx, u); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := b.User(ctx, u.Address); !errors.Is(err, mail.ErrNoSuchUser) {
			t.Fatalf("User after the delete: %v, want mail.ErrNoSuchUser", err)
		}
		var fence *int64
		err := b.meta.Query("SELECT fence FROM "+b.opts.Meta.Name+".users WHERE address = ?", u.Address).
			Consistency(gocql.Quorum).ScanContext(ctx, &fence)
		switch {
		case i == 0 && (err != nil || fence == nil || *fence != 1):
			t.Fatalf("the deleted user's row: fence %v, %v; want it kept, 1", fence, err)
		case i == 1 && !errors.Is(err, gocql.ErrNotFound):
			t.Fatalf("the row of a deleted user never fenced: %v; want none", err)
		}
		again := newUser()
		again.Address = u.Address
		if err := b.CreateUser(ctx, again); err != nil {
			t.Fatalf("CreateUser of a deleted user's address: %v", err)
		}
		if got, err := b.User(ctx, u.Address); err != nil || got.ID != again.ID {
			t.Fatalf("User: %+v, %v; want the one created again", got, err)
		}
	}
}
