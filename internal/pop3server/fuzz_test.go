package pop3server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// FuzzSession feeds arbitrary client bytes to a whole session; no input
// may panic a command or hang the session.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"USER fuzz@test.quire\r\nPASS pw\r\nSTAT\r\nLIST\r\nUIDL 1\r\nRETR 1\r\nTOP 1 2\r\nDELE 1\r\nRSET\r\nQUIT\r\n",
		"AUTH PLAIN AGZ1enpAdGVzdC5xdWlyZQBwdw==\r\nLIST 99\r\nTOP 1 -1\r\nDELE 0\r\nQUIT\r\n",
		"CAPA\r\nAUTH\r\nAUTH PLAIN\r\n*\r\nAPOP x y\r\nSTLS\r\nQUIT\r\n",
	} {
		f.Add([]byte(s))
	}
	st := store.New(backendtest.Open(f, "embedded"), store.Options{})
	ctx := context.Background()
	u, err := st.CreateUser(ctx, "fuzz@test.quire", "{PLAIN}pw")
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range []string{"Subject: a\r\n\r\n.\r\nx", "Subject: b\r\n\r\nbody\r\n"} {
		sp, _ := st.Spool(strings.NewReader(m), 0)
		st.Deliver(ctx, sp, "", []store.User{u})
		sp.Close()
	}
	var errs testkit.PanicCounter
	log := errs.Logger()
	srv := New(Options{Store: st, Logger: log, AllowPlaintext: true, MaxBadCommands: 1000,
		Auth: login.NewAuthenticator(st, login.NewGuard(login.GuardOptions{BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}), log)})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<14 {
			return
		}
		p := testkit.NewScriptConn(in)
		c := srv.newConn(p, false, &netserve.Conn{Conn: p})
		done := make(chan struct{})
		go func() { c.serve(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("session hung on %q", in)
		}
		if n := errs.N.Swap(0); n > 0 {
			t.Fatalf("%d internal errors for %q", n, in)
		}
	})
}
