package imapserver

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

const byeShutdown = "* BYE [UNAVAILABLE] Server shutting down; reconnect shortly"

// TestShutdownSaysBye: Shutdown ends a session in IDLE, one in the middle
// of a command line and one waiting for a command with BYE (RFC 9051
// 7.1.5) and closes them; an APPEND whose literal is still arriving
// finishes, its tagged reply goes out and its message is stored, then BYE.
func TestShutdownSaysBye(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		idle := e.login()
		idle.ok("SELECT INBOX")
		idle.send("IDLE")
		if l := idle.line(); l != "+ idling" {
			t.Fatalf("IDLE: %q", l)
		}
		partial := e.login()
		partial.raw("p1 NOO")
		waiting := e.login()
		appending := e.login()
		msg := "Subject: last words\r\n\r\nsent while the server shut down\r\n"
		tag := appending.send("APPEND INBOX {%d}", len(msg))
		if l := appending.line(); !strings.HasPrefix(l, "+ ") {
			t.Fatalf("APPEND: %q, want a continuation request", l)
		}
		appending.raw(msg[:10])
		time.Sleep(100 * time.Millisecond) // every session is in its read

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut := make(chan error, 1)
		go func() { shut <- e.srv.Shutdown(ctx) }()
		for name, c := range map[string]*client{"IDLE": idle, "mid-command": partial, "waiting": waiting} {
			if got := testkit.UntilEOF(t, c.nc, c.br); len(got) != 1 || got[0] != byeShutdown {
				t.Errorf("%s session got %q before EOF, want [%q]", name, got, byeShutdown)
			}
		}
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned (%v) while an APPEND was running", err)
		case <-time.After(50 * time.Millisecond):
		}
		appending.raw(msg[10:] + "\r\n")
		mb, err := e.st.Mailbox(context.Background(), e.user, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{fmt.Sprintf("%s OK [APPENDUID %d 1] APPEND completed", tag, mb.UIDValidity), byeShutdown}
		if got := testkit.UntilEOF(t, appending.nc, appending.br); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("APPEND session got %q, want %q", got, want)
		}
		if err := <-shut; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if h, err := e.st.Status(context.Background(), mb); err != nil || h.Messages != 1 {
			t.Errorf("INBOX after the APPEND: %+v, %v; want 1 message", h, err)
		}
	})
}

// TestServeAfterClose: Serve returns net.ErrClosed once Close or Shutdown
// was called, whether it was running then or called after.
func TestServeAfterClose(t *testing.T) {
	testkit.ServeAfterStop(t, func() testkit.Server { return New(Options{}) })
}
