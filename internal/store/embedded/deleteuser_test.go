package embedded_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/store/storetest"
)

// TestDeleteUserRacesLeaveNoStrays: a mailbox created, and a message
// appended, while the user is being deleted land before the deletion,
// which then takes them, or after it: no head is left without a record.
// Before DeleteUser took the user's lock and its mailboxes' commit locks,
// a CreateMailbox between its listing and its batch kept its head alone,
// and a Commit that read the head before the batch wrote it back after
// (37 heads without a record in 200 rounds). A creation after the
// deletion leaves a record of a user that is gone, which PurgeStrays
// drops.
func TestDeleteUserRacesLeaveNoStrays(t *testing.T) {
	b := open(t, t.TempDir())
	s := store.New(b, store.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 200 {
		u, err := s.CreateUser(ctx, fmt.Sprintf("race%d@example.test", i), "$test$")
		if err != nil {
			t.Fatal(err)
		}
		inbox, err := s.Mailbox(ctx, u, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		m := storetest.Put(t, ctx, s, fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n", i))
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; _, _ = s.CreateMailbox(ctx, u, "Racing", "") })
		wg.Go(func() { <-start; _, _ = s.Append(ctx, u, inbox, m) })
		wg.Go(func() {
			<-start
			if err := s.DeleteUser(ctx, u); err != nil {
				t.Errorf("DeleteUser: %v", err)
			}
		})
		close(start)
		wg.Wait()
	}
	// A creation after the deletion (the session still holds the user)
	// keeps its record, under a user that is gone: the purge's to find.
	if n, err := embedded.HeadsWithoutRecord(b); err != nil || n != 0 {
		t.Fatalf("%d mailbox heads without a record after 200 creations and appends racing their user's deletion (%v)", n, err)
	}
	if _, err := b.PurgeStrays(ctx, time.Now(), func(string) bool { return false }, false); err != nil {
		t.Fatal(err)
	}
	if n, err := b.PurgeStrays(ctx, time.Now(), func(string) bool { return false }, true); err != nil || n != 0 {
		t.Fatalf("after a purge of strays a dry run finds %d more (%v)", n, err)
	}
	var _ store.StrayPurger = (*embedded.Backend)(nil)
}

// TestMailboxOfDeletedUserIsStray: a session that still holds a deleted
// user can create a mailbox and append to it; its record names a user
// that is gone, so no listing reaches it. PurgeStrays counts it in a dry
// run and then drops its head, rows and record, and nothing else.
func TestMailboxOfDeletedUserIsStray(t *testing.T) {
	b := open(t, t.TempDir())
	s := store.New(b, store.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	keep, err := s.CreateUser(ctx, "keep@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, "late@example.test", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	late, err := s.CreateMailbox(ctx, u, "Late", "")
	if err != nil {
		t.Fatalf("CreateMailbox for a deleted user: %v", err)
	}
	if _, err := s.Append(ctx, u, late, storetest.Put(t, ctx, s, "Subject: late\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	before, err := embedded.MailboxKeys(b, late.ID)
	if err != nil || before < 3 {
		t.Fatalf("the late mailbox holds %d keys (%v)", before, err)
	}
	for _, dry := range []bool{true, false} {
		n, err := b.PurgeStrays(ctx, time.Now(), func(string) bool { return false }, dry)
		if err != nil || n != 1 {
			t.Fatalf("PurgeStrays(dry run %v): %d, %v; want the late mailbox", dry, n, err)
		}
	}
	if n, err := embedded.MailboxKeys(b, late.ID); err != nil || n != 0 {
		t.Fatalf("the late mailbox still holds %d keys (%v)", n, err)
	}
	if _, err := b.Mailbox(ctx, u.ID, "Late"); err == nil {
		t.Fatal("the late mailbox's record is still there")
	}
	if mbs, err := s.Mailboxes(ctx, keep); err != nil || len(mbs) != 6 {
		t.Fatalf("the other user has %d mailboxes (%v), want 6", len(mbs), err)
	}
	if n, err := b.PurgeStrays(ctx, time.Now(), func(string) bool { return false }, false); err != nil || n != 0 {
		t.Fatalf("a second PurgeStrays found %d (%v)", n, err)
	}
}
