package pop3server

import (
	"context"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

const errShutdown = "-ERR [SYS/TEMP] server shutting down"

// TestShutdownTellsSessions: Shutdown ends a session waiting for a command
// in each state, and one in the middle of a command line, with -ERR
// [SYS/TEMP] (RFC 3206 4) and closes them. The session in TRANSACTION
// state does not reach UPDATE, so its DELE removes nothing (RFC 1939 6).
func TestShutdownTellsSessions(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver("Subject: keep me\r\n\r\nstill here after the restart\r\n")
		greeted := e.dial()
		inTransaction := e.login()
		inTransaction.cmd("+OK", "DELE 1")
		partial := e.dial()
		partial.nc.Write([]byte("USE"))
		time.Sleep(100 * time.Millisecond) // every session is in its read

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := e.srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		for name, c := range map[string]*client{"AUTHORIZATION": greeted, "TRANSACTION": inTransaction, "mid-command": partial} {
			if got := testkit.UntilEOF(t, c.nc, c.br); len(got) != 1 || got[0] != errShutdown {
				t.Errorf("%s session got %q before EOF, want [%q]", name, got, errShutdown)
			}
		}
		mb, err := e.st.Mailbox(context.Background(), e.user, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		if h, err := e.st.Status(context.Background(), mb); err != nil || h.Messages != 1 {
			t.Errorf("INBOX after the shutdown: %+v, %v; want the message kept", h, err)
		}
	})
}

// TestServeAfterClose: Serve returns net.ErrClosed once Close or Shutdown
// was called, whether it was running then or called after.
func TestServeAfterClose(t *testing.T) {
	testkit.ServeAfterStop(t, func() testkit.Server { return New(Options{}) })
}
