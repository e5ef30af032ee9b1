package imapserver

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// flaky wraps a backend: when down, reads and commits fail as a node
// outage would; when panicky, Messages panics (a bug in a command).
type flaky struct {
	store.Backend
	down, panicky atomic.Bool
}

func (f *flaky) err() error {
	if f.down.Load() {
		return mail.Unavailable("test", errors.New("all replicas down"))
	}
	return nil
}

func (f *flaky) Head(ctx context.Context, id string) (store.Head, error) {
	if err := f.err(); err != nil {
		return store.Head{}, err
	}
	return f.Backend.Head(ctx, id)
}

func (f *flaky) Mailbox(ctx context.Context, userID, name string) (store.Mailbox, error) {
	if err := f.err(); err != nil {
		return store.Mailbox{}, err
	}
	return f.Backend.Mailbox(ctx, userID, name)
}

func (f *flaky) Messages(ctx context.Context, id string, lo, hi mail.UID, fn func(store.MessageRow) error) error {
	if f.panicky.Load() {
		panic("injected bug")
	}
	if err := f.err(); err != nil {
		return err
	}
	return f.Backend.Messages(ctx, id, lo, hi, fn)
}

func (f *flaky) States(ctx context.Context, id string, lo, hi mail.UID, fn func(store.MessageState) error) error {
	if f.panicky.Load() {
		panic("injected bug")
	}
	if err := f.err(); err != nil {
		return err
	}
	return f.Backend.States(ctx, id, lo, hi, fn)
}

func TestStoreDownAndPanics(t *testing.T) {
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			fb := &flaky{Backend: backendtest.Open(t, name)}
			hub := notify.NewHub()
			e := newEnv(t, store.New(fb, store.Options{Publish: hub.Publish}), hub, nil)
			e.deliver(testMsg("one"))
			c := e.login()
			c.ok("SELECT INBOX")
			fb.down.Store(true)
			c.expect("NO [UNAVAILABLE]", "STATUS Archive (MESSAGES)")
			c.expect("NO [UNAVAILABLE]", "FETCH 1 FLAGS")
			fb.down.Store(false)
			has(t, c.ok("FETCH 1 FLAGS"), "* 1 FETCH")
			fb.panicky.Store(true)
			got := c.do("FETCH 1 BODY[]")
			if !strings.HasPrefix(got, "NO [SERVERBUG]") {
				t.Fatalf("panicking command answered %q", got)
			}
			fb.panicky.Store(false)
			has(t, c.ok("FETCH 1 UID"), "UID 1") // the session goes on
		})
	}
}

// TestCreateAfterUserDeleted: a session's user is deleted while it is
// logged in, and it creates a mailbox. The Cassandra store refuses the
// record (DeleteUser sealed the user's records): the client gets NO
// [CONTACTADMIN] (RFC 5530 3), not a SERVERBUG, and the session goes on.
// The embedded store creates it (the purge drops it as a stray).
func TestCreateAfterUserDeleted(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		if err := e.st.DeleteUser(context.Background(), e.user); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if strings.HasSuffix(t.Name(), "cassandra") {
			c.expect("NO [CONTACTADMIN] This account was deleted", "CREATE Late")
		} else {
			c.ok("CREATE Late")
		}
		c.ok("NOOP")
	})
}
