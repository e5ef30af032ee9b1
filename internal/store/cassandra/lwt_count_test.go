package cassandra

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestLWTsPerOperation counts the lightweight transactions (Paxos rounds)
// each store operation costs on one host without contention, and holds
// them: a change that adds a round to an operation fails here, on purpose.
// The table is in docs/BENCHMARKS.md.
func TestLWTsPerOperation(t *testing.T) {
	b := openTest(t, nil)
	ctx := context.Background()
	s := store.New(b, store.Options{})
	put := func(tag string) store.NewMessage {
		raw := fmt.Sprintf("Subject: %s\r\nMessage-ID: <%s-%s@x>\r\n\r\nbody\r\n", tag, tag, randID())
		sp, err := s.Spool(strings.NewReader(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		if err := s.PutBody(ctx, sp); err != nil {
			t.Fatal(err)
		}
		return store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure}
	}
	users := newUsers(t, s, "lwt", 5)
	u := users[0]
	inbox, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	archive, err := s.Mailbox(ctx, u, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	deliver := func(rcpts []store.User) error {
		sp, err := s.Spool(strings.NewReader("Subject: d\r\nMessage-ID: <d-"+randID()+"@x>\r\n\r\nd\r\n"), 0)
		if err != nil {
			return err
		}
		defer sp.Close()
		for _, err := range s.Deliver(ctx, sp, "a@example.test", rcpts) {
			if err != nil {
				return err
			}
		}
		return nil
	}
	var mbName = "LWT-" + randID()[:6]
	var created store.Mailbox
	for _, tc := range []struct {
		op   string
		want int64
		fn   func() error
	}{
		// Warm the head caches first, so that each row shows the steady cost.
		{"(warm-up: APPEND)", -1, func() error { _, err := s.Append(ctx, u, inbox, put("w")); return err }},
		{"LMTP delivery, 1 recipient", 1, func() error { return deliver(users[:1]) }},
		{"LMTP delivery, 5 recipients", 5, func() error { return deliver(users) }},
		{"APPEND", 1, func() error { _, err := s.Append(ctx, u, inbox, put("a")); return err }},
		{"MULTIAPPEND of 3", 1, func() error { _, err := s.Append(ctx, u, inbox, put("m1"), put("m2"), put("m3")); return err }},
		{"STORE flags", 1, func() error {
			_, err := s.StoreFlags(ctx, inbox, []mail.UID{2, 3}, store.FlagsAdd, mail.NewFlags(`\Seen`), 0)
			return err
		}},
		{"EXPUNGE", 1, func() error { _, err := s.Expunge(ctx, inbox, []mail.UID{2}); return err }},
		{"COPY", 1, func() error { _, _, err := s.Copy(ctx, u, inbox, archive, []mail.UID{3}); return err }},
		{"MOVE", 2, func() error { _, _, err := s.Move(ctx, u, inbox, archive, []mail.UID{4}); return err }},
		{"CREATE mailbox", 3, func() error { created, err = s.CreateMailbox(ctx, u, mbName, ""); return err }},
		{"RENAME mailbox", 2, func() error { _, err := s.RenameMailbox(ctx, created, mbName+"x"); return err }},
		{"DELETE mailbox", 2, func() error {
			mb, err := s.Mailbox(ctx, u, mbName+"x")
			if err != nil {
				return err
			}
			return s.DeleteMailbox(ctx, mb)
		}},
	} {
		before := b.LWTs()
		if err := tc.fn(); err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		got := b.LWTs() - before
		t.Logf("| %s | %d |", tc.op, got)
		if tc.want >= 0 && got != tc.want {
			t.Errorf("%s costs %d LWTs, want %d", tc.op, got, tc.want)
		}
	}
}
