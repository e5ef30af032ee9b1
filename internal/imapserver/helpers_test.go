package imapserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// env is a running server on one backend with one user.
type env struct {
	t    *testing.T
	st   *store.Store
	srv  *Server
	hub  *notify.Hub
	addr string
	user store.User
	pass string
}

// each runs fn on every backend (Cassandra for real when configured).
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			hub := notify.NewHub()
			st := store.New(backendtest.Open(t, name), store.Options{Publish: hub.Publish})
			fn(t, newEnv(t, st, hub, nil))
		})
	}
}

// newEnv starts a server on st; mod may change its options.
func newEnv(t *testing.T, st *store.Store, hub *notify.Hub, mod func(*Options)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, st: st, hub: hub, pass: "secret"}
	u, err := st.CreateUser(ctx, backendtest.Address("imap"), "{PLAIN}"+e.pass)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	e.user = u
	level := slog.LevelWarn
	if os.Getenv("QUIRE_TEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	o := Options{
		Store: st, Hub: hub, Logger: log, Hostname: "test.quire", AllowPlaintext: true,
		Auth:    login.NewAuthenticator(st, login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond}), log),
		Recheck: time.Second, MaxLiteralSize: 10 << 20,
		EnvelopeCache: 8 << 20, PhraseFilterCache: 16 << 20, // as the default config
	}
	if mod != nil {
		mod(&o)
	}
	e.srv = New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go e.srv.Serve(ln)
	t.Cleanup(func() { e.srv.Close() })
	return e
}

// client is a scripted IMAP client.
type client struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	n    int
	Last []string // untagged lines of the last command
}

func (e *env) dial() *client {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	c := &client{t: e.t, nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc)}
	if g := c.line(); !strings.HasPrefix(g, "* OK ") {
		e.t.Fatalf("greeting %q", g)
	}
	return c
}

// login dials and logs in.
func (e *env) login() *client {
	c := e.dial()
	c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	return c
}

func quoteArg(s string) string { return strconv.Quote(s) }

// line reads one response line, with literals inlined.
func (c *client) line() string {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read: %v (have %q)", err, b.String()+l)
		}
		l = strings.TrimSuffix(l, "\r\n")
		b.WriteString(l)
		m := literalEnd.FindStringSubmatch(l)
		if m == nil {
			return b.String()
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		if _, err := io.ReadFull(c.br, buf); err != nil {
			c.t.Fatalf("read literal: %v", err)
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

var literalEnd = regexp.MustCompile(`~?\{(\d+)\}$`)

func (c *client) send(format string, args ...any) string {
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	c.raw(tag + " " + fmt.Sprintf(format, args...) + "\r\n")
	return tag
}

func (c *client) raw(s string) {
	c.t.Helper()
	if _, err := c.bw.WriteString(s); err != nil {
		c.t.Fatal(err)
	}
	if err := c.bw.Flush(); err != nil {
		c.t.Fatal(err)
	}
}

// wait reads until the tagged reply of tag and returns it; untagged lines
// go to Last.
func (c *client) wait(tag string) string {
	c.t.Helper()
	c.Last = nil
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return strings.TrimPrefix(l, tag+" ")
		}
		c.Last = append(c.Last, l)
	}
}

// do runs a command and returns the tagged reply (without the tag).
func (c *client) do(format string, args ...any) string {
	c.t.Helper()
	return c.wait(c.send(format, args...))
}

// expect runs a command and fails unless the tagged reply starts with
// want ("OK", "NO [TRYCREATE]", ...). It returns the untagged lines.
func (c *client) expect(want, format string, args ...any) []string {
	c.t.Helper()
	cmd := fmt.Sprintf(format, args...)
	got := c.do("%s", cmd)
	if !strings.HasPrefix(got, want) {
		c.t.Fatalf("%s: got %q, want %q; untagged:\n%s", cmd, got, want, strings.Join(c.Last, "\n"))
	}
	return c.Last
}

func (c *client) ok(format string, args ...any) []string {
	c.t.Helper()
	return c.expect("OK", format, args...)
}

// has fails unless some line of lines contains each of wants, in order.
func has(t *testing.T, lines []string, wants ...string) {
	t.Helper()
	i := 0
	for _, l := range lines {
		for i < len(wants) && strings.Contains(l, wants[i]) {
			l = l[strings.Index(l, wants[i])+len(wants[i]):]
			i++
		}
	}
	if i < len(wants) {
		t.Fatalf("missing %q in:\n%s", wants[i], strings.Join(lines, "\n"))
	}
}

// hasNot fails if some line contains s.
func hasNot(t *testing.T, lines []string, s string) {
	t.Helper()
	for _, l := range lines {
		if strings.Contains(l, s) {
			t.Fatalf("unexpected %q in:\n%s", s, strings.Join(lines, "\n"))
		}
	}
}

// deliver puts a message into the user's INBOX as LMTP would.
func (e *env) deliver(msg string) { backendtest.Deliver(e.t, e.st, e.user, msg) }

// testMsg is a small message with a given subject.
func testMsg(subject string) string {
	return "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: " + subject +
		"\r\nDate: Mon, 2 Feb 2026 10:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.org>\r\n\r\nHello " + subject + "\r\n"
}
