package pop3server

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

type env struct {
	t    *testing.T
	st   *store.Store
	srv  *Server
	addr string
	user store.User
}

func newEnv(t *testing.T, st *store.Store, mod func(*Options)) *env {
	t.Helper()
	u, err := st.CreateUser(context.Background(), backendtest.Address("pop"), "{PLAIN}secret")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := Options{Store: st, Logger: log, Hostname: "test.quire", AllowPlaintext: true,
		Auth: login.NewAuthenticator(st, login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond}), log)}
	if mod != nil {
		mod(&o)
	}
	e := &env{t: t, st: st, srv: New(o), user: u}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Close() })
	return e
}

func each(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			fn(t, newEnv(t, store.New(backendtest.Open(t, name), store.Options{}), nil))
		})
	}
}

// deliver puts a message into the user's INBOX as LMTP would.
func (e *env) deliver(msg string) { backendtest.Deliver(e.t, e.st, e.user, msg) }

type client struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func (e *env) dial() *client {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	c := &client{t: e.t, nc: nc, br: bufio.NewReader(nc)}
	c.want("+OK")
	return c
}

func (e *env) login() *client {
	c := e.dial()
	c.cmd("+OK", "USER %s", e.user.Address)
	c.cmd("+OK", "PASS secret")
	return c
}

func (c *client) line() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return strings.TrimSuffix(l, "\r\n")
}

func (c *client) want(prefix string) string {
	c.t.Helper()
	l := c.line()
	if !strings.HasPrefix(l, prefix) {
		c.t.Fatalf("got %q, want %q", l, prefix)
	}
	return l
}

func (c *client) cmd(prefix, format string, args ...any) string {
	c.t.Helper()
	fmt.Fprintf(c.nc, format+"\r\n", args...)
	return c.want(prefix)
}

// multi reads a multi-line body up to "." and returns it with dots
// unstuffed, lines joined with CRLF.
func (c *client) multi() string {
	c.t.Helper()
	var b strings.Builder
	for {
		l := c.line()
		if l == "." {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(l, ".") + "\r\n")
	}
}

const tricky = "Subject: dots\r\n\r\n.\r\n..x\r\n.leading\r\nlast line without break"

func TestCommands(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver("Subject: one\r\n\r\nfirst\r\nsecond\r\nthird\r\n")
		e.deliver(tricky)
		c := e.dial()
		c.cmd("+OK", "CAPA")
		capa := c.multi()
		for _, w := range []string{"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN"} {
			if !strings.Contains(capa, w) {
				t.Fatalf("CAPA lacks %s:\n%s", w, capa)
			}
		}
		c.cmd("-ERR", "STAT")
		c.cmd("+OK", "USER %s", e.user.Address)
		c.cmd("-ERR [AUTH]", "PASS wrong")
		c.cmd("+OK", "USER %s", e.user.Address)
		c.cmd("+OK maildrop has 2 messages", "PASS secret")
		st := c.cmd("+OK 2 ", "STAT")
		c.cmd("+OK", "LIST")
		list := c.multi()
		if !strings.HasPrefix(list, "1 38\r\n2 ") {
			t.Fatalf("LIST:\n%s (STAT %s)", list, st)
		}
		c.cmd("+OK 2 ", "LIST 2")
		c.cmd("-ERR", "LIST 3")
		c.cmd("+OK", "UIDL")
		uidl := c.multi()
		mb, _ := e.st.Mailbox(context.Background(), e.user, "INBOX")
		if want := fmt.Sprintf("1 %d.1\r\n2 %d.2\r\n", mb.UIDValidity, mb.UIDValidity); uidl != want {
			t.Fatalf("UIDL %q, want %q", uidl, want)
		}
		c.cmd("+OK", "RETR 2")
		if got := c.multi(); got != tricky+"\r\n" {
			t.Fatalf("RETR 2: %q", got)
		}
		c.cmd("+OK", "TOP 1 1")
		if got := c.multi(); got != "Subject: one\r\n\r\nfirst\r\n" {
			t.Fatalf("TOP 1 1: %q", got)
		}
		c.cmd("+OK", "TOP 1 0")
		if got := c.multi(); got != "Subject: one\r\n\r\n" {
			t.Fatalf("TOP 1 0: %q", got)
		}
		c.cmd("+OK", "DELE 1")
		c.cmd("-ERR", "DELE 1")
		c.cmd("-ERR", "RETR 1")
		c.cmd("+OK 1 ", "STAT")
		c.cmd("+OK", "RSET")
		c.cmd("+OK 2 ", "STAT")
		c.cmd("+OK", "DELE 1")
		c.cmd("+OK", "NOOP")
		c.cmd("-ERR", "FROB")
		c.cmd("-ERR", "USER x")
		// Delivered mid-session: not in this maildrop.
		e.deliver("Subject: late\r\n\r\nlate\r\n")
		c.cmd("+OK 1 ", "STAT")
		c.cmd("+OK", "QUIT")
		// The expunge went through the store and its change log.
		var uids []mail.UID
		var seen bool
		e.st.Messages(context.Background(), mb, 1, 0, func(r store.MessageRow) error {
			uids = append(uids, r.UID)
			if r.UID == 2 {
				seen = r.Flags.Has(`\Seen`)
			}
			return nil
		})
		if fmt.Sprint(uids) != "[2 3]" || !seen {
			t.Fatalf("after QUIT: UIDs %v, message 2 seen %v", uids, seen)
		}
		var expunged bool
		e.st.Changes(context.Background(), mb, 1, func(ch store.Change) error {
			expunged = expunged || ch.Kind == store.ChangeExpunge && ch.UID == 1
			return nil
		})
		if !expunged {
			t.Fatal("change log lacks the expunge of UID 1")
		}
	})
}

func TestAuthPlainInUseAndDrop(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver("Subject: x\r\n\r\nx\r\n")
		plain := base64.StdEncoding.EncodeToString([]byte("\x00" + e.user.Address + "\x00secret"))
		c := e.dial()
		c.cmd("+OK", "AUTH")
		if m := c.multi(); !strings.Contains(m, "PLAIN") {
			t.Fatalf("AUTH list %q", m)
		}
		c.cmd("+ ", "AUTH PLAIN")
		c.cmd("-ERR", "*")
		c.cmd("-ERR [AUTH]", "AUTH PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+e.user.Address+"\x00no")))
		c.cmd("+ ", "AUTH PLAIN")
		c.cmd("+OK", "%s", plain)
		// A second session for the same user.
		d := e.dial()
		d.cmd("-ERR [IN-USE]", "AUTH PLAIN %s", plain)
		c.cmd("+OK", "DELE 1")
		c.nc.Close() // dropped without QUIT: nothing expunged
		time.Sleep(100 * time.Millisecond)
		d.cmd("+OK maildrop has 1 messages", "AUTH PLAIN %s", plain)
	})
}

// A client that reconnects as soon as QUIT is answered finds the maildrop
// free: the lock is released before the answer is sent. The old order (answer,
// then release) lost the race often enough that 100 rounds caught it.
func TestQuitReleasesBeforeAnswer(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver("Subject: x\r\n\r\nx\r\n")
		for range 100 {
			c := e.login()
			c.cmd("+OK", "QUIT")
			if !e.srv.lock(e.user.ID) {
				t.Fatal("the maildrop is still locked after QUIT was answered")
			}
			e.srv.unlock(e.user.ID)
		}
	})
}

func TestBadCommandsAndLongLines(t *testing.T) {
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	e := newEnv(t, st, func(o *Options) { o.MaxBadCommands, o.MaxLineLength = 3, 300 })
	c := e.dial()
	c.cmd("-ERR line too long", "NOOP %s", strings.Repeat("x", 1000))
	c.cmd("-ERR", "FROB")
	c.cmd("-ERR STAT needs a login first", "STAT")
	c.want("-ERR too many bad commands")
	if _, err := c.br.ReadString('\n'); err == nil {
		t.Fatal("connection still open after too many bad commands")
	}
}

func TestTimeout(t *testing.T) {
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	e := newEnv(t, st, func(o *Options) { o.Timeout = 200 * time.Millisecond })
	c := e.dial()
	c.want("-ERR idle")
}

func TestTLS(t *testing.T) {
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	cfg := testkit.SelfSigned(t)
	e := newEnv(t, st, func(o *Options) { o.TLS, o.AllowPlaintext = cfg, false })
	c := e.dial()
	c.cmd("+OK", "CAPA")
	capa := c.multi()
	if !strings.Contains(capa, "STLS") || strings.Contains(capa, "USER") {
		t.Fatalf("CAPA without TLS:\n%s", capa)
	}
	c.cmd("-ERR [AUTH]", "USER %s", e.user.Address)
	c.cmd("+OK", "STLS")
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc, c.br = tc, bufio.NewReader(tc)
	c.cmd("+OK", "CAPA")
	if capa := c.multi(); strings.Contains(capa, "STLS") || !strings.Contains(capa, "USER") {
		t.Fatalf("CAPA after STLS:\n%s", capa)
	}
	c.cmd("+OK", "USER %s", e.user.Address)
	c.cmd("+OK", "PASS secret")
	// Implicit TLS.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.ServeTLS(ln)
	tc2, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	d := &client{t: t, nc: tc2, br: bufio.NewReader(tc2)}
	d.want("+OK")
	d.cmd("+OK", "USER %s", e.user.Address)
	d.cmd("-ERR [IN-USE]", "PASS secret")
}
