package imapserver

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// changesPanic is a real backend whose Changes panics while on: a bug
// met by the refresh that follows every command, outside the command's
// own recovery.
type changesPanic struct {
	store.Backend
	on atomic.Bool
}

func (p *changesPanic) Changes(ctx context.Context, id string, since mail.ModSeq, fn func(store.Change) error) error {
	if p.on.Load() {
		panic("injected bug")
	}
	return p.Backend.Changes(ctx, id, since, fn)
}

// TestPanicOutsideCommandEndsThatSessionOnly: a panic after a command's
// reply (in the updates that follow it) ends that session with BYE
// [SERVERBUG]; the server and the other sessions go on.
func TestPanicOutsideCommandEndsThatSessionOnly(t *testing.T) {
	pb := &changesPanic{Backend: backendtest.Open(t, "embedded")}
	hub := notify.NewHub()
	e := newEnv(t, store.New(pb, store.Options{Publish: hub.Publish}), hub, nil)
	e.deliver(testMsg("one"))
	a, b := e.login(), e.login()
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")
	e.deliver(testMsg("two")) // both sessions have a change to read
	pb.on.Store(true)
	a.send("LIST \"\" INBOX") // its own work reads no changes; the updates after it do
	var got []string
	_ = a.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		l, err := a.br.ReadString('\n')
		if errors.Is(err, io.EOF) {
			break // the session is closed
		}
		if err != nil {
			t.Fatalf("read: %v after %q", err, got)
		}
		got = append(got, strings.TrimSuffix(l, "\r\n"))
	}
	want := []string{`* LIST (\HasNoChildren) "/" INBOX`, "* BYE [SERVERBUG] Internal error; the failure was logged"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the panicking session got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	pb.on.Store(false)
	has(t, b.ok("NOOP"), "* 2 EXISTS")
	e.login().ok("SELECT INBOX")
}
