//go:build quirefaults

package cassandra

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// holdFirstUserWrite holds the first conditional write to the users table
// that b sends (Held: it runs at b.ReleaseHeld): the user write itself,
// which no fence advance precedes.
func holdFirstUserWrite(t *testing.T, b *Backend) { faultFirstCAS(t, b, ".users", Held) }

// openWithUser opens a backend and creates a user in it.
func openWithUser(t *testing.T) (*Backend, store.User) {
	t.Helper()
	b := openTest(t, nil)
	u := newUser()
	if err := b.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return b, u
}

// sameUser reports whether got is want, field by field.
func sameUser(got, want store.User) bool {
	return got.ID == want.ID && got.Address == want.Address && got.PasswordHash == want.PasswordHash &&
		got.QuotaStorage == want.QuotaStorage && got.QuotaMessages == want.QuotaMessages &&
		got.MailHost == want.MailHost && got.Created.Equal(want.Created)
}

// wasRefused fails the test unless released is one held statement that
// its condition refused.
func wasRefused(t *testing.T, released []Released, what string) {
	t.Helper()
	if len(released) != 1 || released[0].Err != nil || released[0].Applied {
		t.Fatalf("the held %s, run late: %+v; want one, refused by its condition", what, released)
	}
}

// TestFaultLateUserUpdateFenced: an UpdateUser whose first attempt is
// queued on a silent coordinator times out; settling reads the record at
// SERIAL, finds the update not landed, and it is sent again and lands.
// A later UpdateUser of the same user is acknowledged; then the queued
// first attempt runs. Without the fence of the user's record it landed
// (its condition, IF id = ?, still held) and reverted the later update.
func TestFaultLateUserUpdateFenced(t *testing.T) {
	ctx := context.Background()
	b, u := openWithUser(t)
	first := u
	first.PasswordHash, first.QuotaMessages, first.MailHost = "{PLAIN}two", 20, "group2"
	holdFirstUserWrite(t, b)
	if err := b.UpdateUser(ctx, first); err != nil {
		t.Fatalf("UpdateUser, its first attempt held: %v", err)
	}
	b.SetFaults(Faults{})
	if got, err := b.User(ctx, u.Address); err != nil || !sameUser(got, first) {
		t.Fatalf("after the first update: %+v, %v; want %+v", got, err, first)
	}
	later := u
	later.PasswordHash, later.QuotaMessages, later.MailHost = "{PLAIN}three", 30, "group3"
	if err := b.UpdateUser(ctx, later); err != nil {
		t.Fatalf("the later UpdateUser: %v", err)
	}
	released := b.ReleaseHeld()
	if got, err := b.User(ctx, u.Address); err != nil || !sameUser(got, later) {
		t.Fatalf("after the held update ran: %+v, %v; want the later update, %+v", got, err, later)
	}
	wasRefused(t, released, "first attempt of the first update")
	// The user's writes go on past the fence.
	if err := b.UpdateUser(ctx, u); err != nil {
		t.Fatalf("an update after the fence: %v", err)
	}
	if got, err := b.User(ctx, u.Address); err != nil || !sameUser(got, u) {
		t.Fatalf("after an update past the fence: %+v, %v; want %+v", got, err, u)
	}
}

// TestFaultLateCreateUserFenced: a CreateUser whose first attempt is
// queued on a silent coordinator is settled as not landed and sent again;
// the user is deleted; then the queued first attempt runs. Without the
// fence it landed (IF NOT EXISTS holds again once the record is deleted)
// and brought the deleted user back. Now it is refused, the fence stays
// behind in a row of its own (no user: not read, not listed), and the
// address can be created again.
func TestFaultLateCreateUserFenced(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, nil)
	u := newUser()
	holdFirstUserWrite(t, b)
	if err := b.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser, its first attempt held: %v", err)
	}
	b.SetFaults(Faults{})
	if err := b.DeleteUser(ctx, u); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	released := b.ReleaseHeld()
	if got, err := b.User(ctx, u.Address); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("User after the delete and the held create: %+v, %v; want mail.ErrNoSuchUser", got, err)
	}
	wasRefused(t, released, "first attempt of the create")
	listed := func(address string) []store.User {
		var out []store.User
		if err := b.ListUsers(ctx, func(x store.User) error {
			if x.Address == address {
				out = append(out, x)
			}
			return nil
		}); err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		return out
	}
	if got := listed(u.Address); len(got) != 0 {
		t.Fatalf("ListUsers after the delete: %+v; want the address not listed", got)
	}
	if err := b.UpdateUser(ctx, u); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("UpdateUser of the deleted user: %v, want mail.ErrNoSuchUser", err)
	}
	// The address is free again, the fence notwithstanding.
	again := newUser()
	again.Address = u.Address
	if err := b.CreateUser(ctx, again); err != nil {
		t.Fatalf("CreateUser again: %v", err)
	}
	if err := b.CreateUser(ctx, u); !errors.Is(err, mail.ErrUserExists) {
		t.Fatalf("CreateUser over the one created again: %v, want mail.ErrUserExists", err)
	}
	if got := listed(u.Address); len(got) != 1 || !sameUser(got[0], again) {
		t.Fatalf("ListUsers: %+v; want the user created again, %+v", got, again)
	}
}

// TestFaultLateDeleteUserFenced: every attempt of a DeleteUser's record
// delete is queued on a silent coordinator; each is settled as not
// landed, and the delete gives up (mail.ErrUnavailable). The operator
// updates the user, acknowledged; then the queued deletes run. Without
// the fence the first of them landed (IF id = ? still held) and deleted
// the user after the delete had failed and the update succeeded.
func TestFaultLateDeleteUserFenced(t *testing.T) {
	ctx := context.Background()
	b, u := openWithUser(t)
	var held atomic.Int64
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, "DELETE") && strings.Contains(s.CQL, ".users") {
			held.Add(1)
			return Held
		}
		return Pass
	}})
	if err := b.DeleteUser(ctx, u); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("DeleteUser, every record delete held: %v, want mail.ErrUnavailable", err)
	}
	b.SetFaults(Faults{})
	if held.Load() < 2 {
		t.Fatalf("%d record deletes held; want every attempt, several", held.Load())
	}
	later := u
	later.PasswordHash, later.MailHost = "{PLAIN}kept", "group2"
	if err := b.UpdateUser(ctx, later); err != nil {
		t.Fatalf("UpdateUser after the failed delete: %v", err)
	}
	released := b.ReleaseHeld()
	if got, err := b.User(ctx, u.Address); err != nil || !sameUser(got, later) {
		t.Fatalf("after the held deletes ran: %+v, %v; want the user as updated, %+v", got, err, later)
	}
	for _, r := range released {
		wasRefused(t, []Released{r}, "record delete")
	}
	if int64(len(released)) != held.Load() {
		t.Fatalf("released %d, held %d", len(released), held.Load())
	}
}

// TestFaultUserFenceMovedMeanwhile: another host's settle advances the
// fence of a user's record between the fence read and the write that
// carries it (for a create: in a row that holds nothing else yet). The
// write's condition fails on the fence alone, and it is sent again with
// the fence its refusal returned: applied, not "user exists" or "no such
// user".
func TestFaultUserFenceMovedMeanwhile(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, nil)
	rival := openTest(t, nil)
	u := newUser()
	var sends atomic.Int64
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, ".users") && sends.Add(1) == 1 {
			if err := rival.fenceUser(ctx, gocql.LocalSerial, u.Address); err != nil {
				t.Errorf("the rival's fence: %v", err)
			}
		}
		return Pass
	}})
	if err := b.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser, the fence moved meanwhile: %v", err)
	}
	if n := sends.Load(); n != 2 {
		t.Fatalf("CreateUser sent %d conditional writes; want 2 (refused on the fence, then applied)", n)
	}
	sends.Store(0)
	u.PasswordHash = "{PLAIN}two"
	if err := b.UpdateUser(ctx, u); err != nil {
		t.Fatalf("UpdateUser, the fence moved meanwhile: %v", err)
	}
	if n := sends.Load(); n != 2 {
		t.Fatalf("UpdateUser sent %d conditional writes; want 2", n)
	}
	b.SetFaults(Faults{})
	if got, err := b.User(ctx, u.Address); err != nil || !sameUser(got, u) {
		t.Fatalf("User: %+v, %v; want %+v", got, err, u)
	}
}

// TestFaultCreateRacingDeleteUser: another host deletes a user between a
// creation's fence read and its record insert (after DeleteUser listed
// the user's mailboxes, in the race it had). DeleteUser seals the user's
// records first, so the insert fails its condition: the creation says
// mail.ErrNoSuchUser, drops its head, and the deleted user has no record
// left. Without the seal the record landed under the deleted user, a
// mailbox no listing reaches, acknowledged to its creator.
func TestFaultCreateRacingDeleteUser(t *testing.T) {
	ctx := context.Background()
	b, u := openWithUser(t)
	rival := openTest(t, nil)
	inbox := store.Mailbox{ID: randID(), UserID: u.ID, Name: "INBOX", UIDValidity: 7, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := b.CreateMailbox(ctx, inbox); err != nil {
		t.Fatalf("CreateMailbox: %v", err)
	}
	mb := store.Mailbox{ID: randID(), UserID: u.ID, Name: "Drafts", UIDValidity: 8, Created: time.Now().UTC().Truncate(time.Millisecond)}
	var hit atomic.Bool
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, ".mailboxes SET id") && hit.CompareAndSwap(false, true) {
			if err := rival.DeleteUser(ctx, u); err != nil {
				t.Errorf("the rival's DeleteUser: %v", err)
			}
		}
		return Pass
	}})
	if err := b.CreateMailbox(ctx, mb); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("CreateMailbox racing its user's deletion: %v, want mail.ErrNoSuchUser", err)
	}
	b.SetFaults(Faults{})
	if !hit.Load() {
		t.Fatal("no record insert was sent")
	}
	if mbs, err := b.ListMailboxes(ctx, u.ID); err != nil || len(mbs) != 0 {
		t.Fatalf("records of the deleted user: %+v, %v; want none", mbs, err)
	}
	if _, ok, err := b.readBucket(ctx, gocql.LocalSerial, mb.ID, 0); err != nil || ok {
		t.Fatalf("the refused creation's head: present %v, %v; want it dropped", ok, err)
	}
	if _, err := b.User(ctx, u.Address); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("User after the delete: %v, want mail.ErrNoSuchUser", err)
	}
}

// TestFaultCreateBeforeSealDeleted: a creation whose record lands after
// DeleteUser's first listing but before its seal (run here just before
// the seal's write) is in the listing after the seal: its record is
// deleted and its log marked gone with the user's other mailboxes.
// Without the second listing its record stayed under the deleted user.
func TestFaultCreateBeforeSealDeleted(t *testing.T) {
	ctx := context.Background()
	b, u := openWithUser(t)
	rival := openTest(t, nil)
	mb := store.Mailbox{ID: randID(), UserID: u.ID, Name: "Drafts", UIDValidity: 8, Created: time.Now().UTC().Truncate(time.Millisecond)}
	var hit atomic.Bool
	var created error
	rival.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, ".mailboxes SET fence") && hit.CompareAndSwap(false, true) {
			created = b.CreateMailbox(ctx, mb)
		}
		return Pass
	}})
	if err := rival.DeleteUser(ctx, u); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if !hit.Load() || created != nil {
		t.Fatalf("the creation before the seal: sent %v, %v; want it created", hit.Load(), created)
	}
	if mbs, err := b.ListMailboxes(ctx, u.ID); err != nil || len(mbs) != 0 {
		t.Fatalf("records of the deleted user: %+v, %v; want none", mbs, err)
	}
	if _, err := b.Head(ctx, mb.ID); !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("the mailbox created before the seal: %v, want mail.ErrNoSuchMailbox (its log marked gone)", err)
	}
}
