package lmtpserver

import (
	"slices"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/testkit"
)

// TestShutdownMidData: a shutdown that begins while a message is arriving
// lets the transaction finish (one 250 per recipient, the message
// delivered once for both) and then says 421 (RFC 5321 3.8); an idle
// session gets 421 at once.
func TestShutdownMidData(t *testing.T) {
	st := scriptStore()
	srv, addr, _ := startServer(t, testOptions(st))
	idle := dial(t, addr)
	idle.lhlo()
	c := dial(t, addr)
	c.lhlo()
	c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	c.do("RCPT TO:<bob@example.org>", "250 2.1.5 <bob@example.org> ok")
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	c.send(msg[:20])
	time.Sleep(50 * time.Millisecond) // the session is reading the body

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(graceCtx(t, 10*time.Second)) }()
	idle.expect("421 4.3.2 lmtp.test shutting down")
	idle.expectClosed()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) in the middle of DATA", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.send(msg[20:] + ".\r\n")
	c.expect("250 2.0.0 <alice@example.org> delivered", "250 2.0.0 <bob@example.org> delivered",
		"421 4.3.2 lmtp.test shutting down")
	c.expectClosed()
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	_, ds := st.calls()
	if len(ds) != 1 || !slices.Equal(ds[0].users, []string{"alice@example.org", "bob@example.org"}) {
		t.Fatalf("deliveries %+v, want one to alice and bob", ds)
	}
	if got := string(st.body(t)); got != msg {
		t.Errorf("stored %q, want %q", got, msg)
	}
}

// TestServeAfterClose: Serve returns net.ErrClosed once Close or Shutdown
// was called, whether it was running then or called after.
func TestServeAfterClose(t *testing.T) {
	testkit.ServeAfterStop(t, func() testkit.Server { return New(testOptions(scriptStore())) })
}
