package lmtpserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// fakeStore is an in-memory Store with errors injected per address.
type fakeStore struct {
	mu         sync.Mutex
	users      map[string]store.User // by canonical address
	userErr    map[string]error      // User fails for these canonical addresses
	deliverErr map[string]error      // Deliver fails for these users
	spoolErr   error                 // Spool fails after reading the message
	panicOn    string                // User panics for this address
	panicSpool bool                  // Spool panics
	panicDlv   bool                  // Deliver panics
	// gate, if set, is received from before Deliver returns.
	gate chan struct{}

	bodies    map[store.BlobID][]byte
	spools    int
	delivered []delivery
}

type delivery struct {
	blob       store.BlobID
	returnPath string
	users      []string
}

func newFakeStore(addrs ...string) *fakeStore {
	f := &fakeStore{
		users:      map[string]store.User{},
		userErr:    map[string]error{},
		deliverErr: map[string]error{},
		bodies:     map[store.BlobID][]byte{},
	}
	for i, a := range addrs {
		f.users[a] = store.User{ID: fmt.Sprintf("u%d", i), Address: a}
	}
	return f
}

func (f *fakeStore) User(_ context.Context, address string) (store.User, error) {
	if f.panicOn != "" && address == f.panicOn {
		panic("fake store: lookup of " + address)
	}
	addr, err := store.CanonicalAddress(address)
	if err != nil {
		return store.User{}, fmt.Errorf("%w: %w", mail.ErrNoSuchUser, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.userErr[addr]; err != nil {
		return store.User{}, err
	}
	u, ok := f.users[addr]
	if !ok {
		return store.User{}, mail.ErrNoSuchUser
	}
	return u, nil
}

func (f *fakeStore) Spool(r io.Reader, maxSize int64) (*store.Spooled, error) {
	f.mu.Lock()
	f.spools++
	f.mu.Unlock()
	if f.panicSpool {
		panic("fake store: spool")
	}
	lr := r
	if maxSize > 0 {
		lr = io.LimitReader(r, maxSize+1)
	}
	b, err := io.ReadAll(lr)
	if err != nil {
		return nil, fmt.Errorf("fake spool: %w", err)
	}
	if maxSize > 0 && int64(len(b)) > maxSize {
		return nil, fmt.Errorf("%w: more than %d bytes", mail.ErrTooBig, maxSize)
	}
	if f.spoolErr != nil {
		return nil, f.spoolErr
	}
	sum := sha256.Sum256(b)
	id := store.BlobID(hex.EncodeToString(sum[:]))
	f.mu.Lock()
	f.bodies[id] = b
	f.mu.Unlock()
	return &store.Spooled{ID: id, Size: int64(len(b))}, nil
}

func (f *fakeStore) Deliver(_ context.Context, sp *store.Spooled, returnPath string, rcpts []store.User) []error {
	if f.gate != nil {
		<-f.gate
	}
	if f.panicDlv {
		panic("fake store: deliver")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	d := delivery{blob: sp.ID, returnPath: returnPath}
	errs := make([]error, len(rcpts))
	for i, u := range rcpts {
		d.users = append(d.users, u.Address)
		errs[i] = f.deliverErr[u.Address]
	}
	f.delivered = append(f.delivered, d)
	return errs
}

// calls returns the number of Spool calls and the deliveries so far.
func (f *fakeStore) calls() (int, []delivery) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spools, slices.Clone(f.delivered)
}

// body returns the only message body delivered so far.
func (f *fakeStore) body(t *testing.T) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.delivered) != 1 {
		t.Fatalf("%d deliveries, want 1", len(f.delivered))
	}
	return f.bodies[f.delivered[0].blob]
}

// syncBuf collects a server's log.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func testOptions(st Store) Options {
	return Options{
		Store: st, Hostname: "lmtp.test", MaxMessageSize: 1 << 16, MaxRecipients: 5,
		MaxLineLength: 512, Timeout: 10 * time.Second,
	}
}

// startServer serves o on 127.0.0.1 until the test ends and returns the
// server, its address and its log.
func startServer(t *testing.T, o Options) (*Server, string, *syncBuf) {
	t.Helper()
	logs := &syncBuf{}
	o.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-served:
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return srv, ln.Addr().String(), logs
}

// client is a raw LMTP client: it writes exactly what it is given and
// checks replies literally.
type client struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl := &client{t: t, c: c, r: bufio.NewReader(c)}
	cl.expect("220 lmtp.test LMTP server ready")
	return cl
}

// send writes s verbatim.
func (c *client) send(s string) {
	c.t.Helper()
	_ = c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// line reads one reply line, without its CRLF.
func (c *client) line() (string, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		return l, err
	}
	if !strings.HasSuffix(l, "\r\n") {
		return l, fmt.Errorf("reply %q does not end with CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n"), nil
}

// expect reads one line per want and compares them literally.
func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		got, err := c.line()
		if err != nil {
			c.t.Fatalf("want %q, got %q and %v", w, got, err)
		}
		if got != w {
			c.t.Fatalf("got  %q\nwant %q", got, w)
		}
	}
}

// do sends one command line and expects the replies.
func (c *client) do(cmd string, want ...string) {
	c.t.Helper()
	c.send(cmd + "\r\n")
	c.expect(want...)
}

// expectClosed checks that the server closed the connection.
func (c *client) expectClosed() {
	c.t.Helper()
	l, err := c.line()
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.t.Fatalf("want the connection closed, got %q, %v", l, err)
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

var lhloReply = []string{
	"250-lmtp.test", "250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
	"250-SIZE 65536", "250-CHUNKING", "250 SMTPUTF8",
}

func (c *client) lhlo() {
	c.t.Helper()
	c.do("LHLO mta.test", lhloReply...)
}
