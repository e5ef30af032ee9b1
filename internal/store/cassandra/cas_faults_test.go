//go:build quirefaults

package cassandra

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quiremail/quire/internal/store"
)

// neverRunsOnce makes the first conditional write of b whose statement
// contains what time out unsent (NoResponse), and fails the test at its
// end if no such write was sent.
func neverRunsOnce(t *testing.T, b *Backend, what string) {
	var hit atomic.Bool
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.CAS && strings.Contains(s.CQL, what) && hit.CompareAndSwap(false, true) {
			return NoResponse
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
	const head, record, user = ".mblog (mailbox_id, bucket, uidnext", ".mailboxes (user_id", ".users (address"
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
