//go:build quirefaults

package cassandra

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// neverRunsOnce makes the first conditional write of b whose statement
// contains what time out unsent (NoResponse), and fails the test at its
// end if no such write was sent.
func neverRunsOnce(t *testing.T, b *Backend, what string) { faultFirstCAS(t, b, what, NoResponse) }

// faultFirstCAS makes the first conditional write of b whose statement
// contains what meet fault f, and fails the test at its end if no such
// write was sent.
func faultFirstCAS(t *testing.T, b *Backend, what string, f Fault) {
	var hit atomic.Bool
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, what) && hit.CompareAndSwap(false, true) {
			return f
		}
		return Pass
	}})
	t.Cleanup(func() {
		if !hit.Load() {
			t.Errorf("no conditional write of %q was sent", what)
		}
	})
}

// TestFaultCASNeverRan: a conditional write that times out unsent is
// settled as not landed, and then sent again: "not landed" is not "its
// condition failed". Before, CreateUser answered "user exists" for a user
// that did not, CreateMailbox "mailbox exists", or created the record of
// a mailbox whose head was never written (a mailbox listed forever but
// never readable), and a roll of the log pointed the mailbox at a bucket
// that was never created (found by TestFaultConformance).
func TestFaultCASNeverRan(t *testing.T) {
	ctx := context.Background()
	const head, record, user = ".mblog (mailbox_id, bucket, uidnext", ".mailboxes SET id", ".users SET id"
	for name, run := range map[string]func(t *testing.T, b *Backend, s *store.Store){
		"create user": func(t *testing.T, b *Backend, s *store.Store) {
			neverRunsOnce(t, b, user)
			if _, err := s.CreateUser(ctx, "u"+randID()[:12]+"@example.org", "{PLAIN}pw"); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
		},
		"create mailbox head": func(t *testing.T, b *Backend, s *store.Store) {
			neverRunsOnce(t, b, head)
			mb := newMailbox(t, b)
			if _, err := b.Head(ctx, mb.ID); err != nil {
				t.Fatalf("the head of a mailbox just created: %v", err)
			}
		},
		"create mailbox record": func(t *testing.T, b *Backend, s *store.Store) {
			neverRunsOnce(t, b, record)
			newMailbox(t, b)
		},
		"roll": func(t *testing.T, b *Backend, s *store.Store) {
			mb := newMailbox(t, b)
			neverRunsOnce(t, b, head) // the head of the bucket the roll opens
			churn(t, s, mb, 40)       // past BucketSize
			check(t, b, mb.ID)
			check(t, openTest(t, nil), mb.ID)
		},
	} {
		t.Run(name, func(t *testing.T) {
			b := openTest(t, func(o *Options) { o.BucketSize = 32 })
			run(t, b, store.New(b, store.Options{}))
		})
	}
}

// TestFaultDeliverAfterFailedDeleteUser: a DeleteUser that fails after it
// deleted INBOX (here its last step, the user record, is refused) leaves
// the user, whose next delivery recreates INBOX, as on any host. Before,
// the Store that ran the delete kept the old INBOX in its cache and failed
// every delivery to the user with "no such mailbox (deleted)" (found by
// TestFaultConformance, IndexHook and PurgeDeleted).
func TestFaultDeliverAfterFailedDeleteUser(t *testing.T) {
	ctx := context.Background()
	b := openTest(t, nil)
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(ctx, "u"+randID()[:12]+"@example.org", "{PLAIN}pw")
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(what string) {
		t.Helper()
		sp, err := s.Spool(strings.NewReader("Subject: "+what+"\r\n\r\nbody\r\n"), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		if err := s.Deliver(ctx, sp, "", []store.User{u})[0]; err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	deliver("before") // INBOX cached
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, "DELETE FROM "+b.opts.Meta.Name+".users") {
			return Unavailable
		}
		return Pass
	}})
	if err := s.DeleteUser(ctx, u); !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("DeleteUser with its last step refused: %v, want mail.ErrUnavailable", err)
	}
	b.SetFaults(Faults{})
	deliver("after the failed delete")
	in, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if h, err := s.Status(ctx, in); err != nil || h.Messages != 1 {
		t.Fatalf("INBOX after the failed delete: %+v, %v; want the one message delivered since", h, err)
	}
}
