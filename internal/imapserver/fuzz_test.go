package imapserver

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

// FuzzSession drives whole sessions: a login, then arbitrary client bytes.
// No input may panic a command (a recovered panic is logged as an
// internal error and fails the target).
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"a SELECT INBOX\r\nb FETCH 1:* (FLAGS BODY[] BODY.PEEK[1.MIME] BINARY[1]<0.5> ENVELOPE BODYSTRUCTURE)\r\n",
		"a APPEND INBOX (\\Seen) {11+}\r\nSubject: x\r\n\r\nb SELECT INBOX\r\nc STORE 1 +FLAGS (\\Deleted)\r\nd EXPUNGE\r\n",
		"a ENABLE QRESYNC\r\nb SELECT INBOX (QRESYNC (1 1 1:5))\r\nc UID FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)\r\n",
		"a CREATE x/y\r\nb RENAME x z\r\nc LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (* %) RETURN (STATUS (MESSAGES SIZE))\r\nd DELETE z\r\n",
		"a SELECT INBOX\r\nb IDLE\r\nDONE\r\nc MOVE 1 Archive\r\nd UID EXPUNGE 1:*\r\ne STATUS INBOX (MESSAGES RECENT DELETED-STORAGE)\r\n",
		"a COMPRESS DEFLATE\r\nxyz",
		"a GETQUOTAROOT INBOX\r\nb SETQUOTA \"\" (STORAGE 1)\r\nc NAMESPACE\r\nd ID NIL\r\n",
	} {
		f.Add([]byte(s))
	}
	st := store.New(backendtest.Open(f, "embedded"), store.Options{})
	ctx := context.Background()
	u, err := st.CreateUser(ctx, "fuzz@test.quire", "{PLAIN}pw")
	if err != nil {
		f.Fatal(err)
	}
	sp, _ := st.Spool(strings.NewReader(mimeMsg), 0)
	if errs := st.Deliver(ctx, sp, "", []store.User{u}); errs[0] != nil {
		f.Fatal(errs[0])
	}
	sp.Close()
	var panics testkit.PanicCounter
	log := panics.Logger()
	srv := New(Options{Store: st, Logger: log, AllowPlaintext: true, MaxLiteralSize: 1 << 16, MaxLineLength: 4096,
		Auth: login.NewAuthenticator(st, login.NewGuard(login.GuardOptions{BaseDelay: time.Microsecond, MaxDelay: time.Microsecond}), log), MaxBadCommands: 1000})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 1<<16 {
			return
		}
		p := testkit.NewScriptConn(append([]byte("l LOGIN fuzz@test.quire pw\r\n"), in...))
		c := srv.newConn(p, false, &netserve.Conn{Conn: p})
		done := make(chan struct{})
		go func() { c.serve(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("session hung on %q", in)
		}
		if n := panics.N.Swap(0); n > 0 {
			t.Fatalf("%d internal errors for input %q", n, in)
		}
	})
}
