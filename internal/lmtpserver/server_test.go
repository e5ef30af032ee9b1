package lmtpserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// firstLine dials addr and returns the server's first line.
func firstLine(t *testing.T, addr string) (string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the greeting: %v", err)
	}
	return l, c
}

func TestMaxConnections(t *testing.T) {
	o := testOptions(scriptStore())
	o.MaxConnections = 2
	_, addr, logs := startServer(t, o)
	c1 := dial(t, addr)
	dial(t, addr)
	l, _ := firstLine(t, addr)
	if l != "421 4.3.2 lmtp.test too many connections, try again later\r\n" {
		t.Fatalf("third connection got %q", l)
	}
	c1.do("QUIT", "221 2.0.0 lmtp.test closing connection")
	c1.expectClosed()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		l, _ := firstLine(t, addr)
		if strings.HasPrefix(l, "220 ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still refused after a session ended: %q", l)
		}
	}
	if !strings.Contains(logs.String(), "too many connections") {
		t.Errorf("the refusal is not logged")
	}
}

func TestTimeout(t *testing.T) {
	st := scriptStore()
	o := testOptions(st)
	o.Timeout = 500 * time.Millisecond
	_, addr, _ := startServer(t, o)

	c := dial(t, addr)
	c.expect("421 4.4.2 lmtp.test timeout, closing connection")
	c.expectClosed()

	// A stalled DATA times out too, and nothing is delivered.
	c = dial(t, addr)
	c.lhlo()
	c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	for range 8 { // a slow but live client is not cut off
		c.send("Subject: slow\r\n")
		time.Sleep(100 * time.Millisecond)
	}
	c.expect("421 4.4.2 lmtp.test timeout, closing connection")
	c.expectClosed()
	if _, ds := st.calls(); len(ds) != 0 {
		t.Errorf("a message was delivered after a timeout")
	}
}

// TestPanic checks that a panic anywhere in a session becomes 421 4.3.0,
// is logged with its stack, and leaves the server serving.
func TestPanic(t *testing.T) {
	tests := []struct {
		name string
		set  func(*fakeStore)
		run  func(*client)
	}{
		{"lookup", func(f *fakeStore) { f.panicOn = "boom@example.org" }, func(c *client) {
			c.do("RCPT TO:<boom@example.org>", "421 4.3.0 internal error")
		}},
		{"spool in DATA", func(f *fakeStore) { f.panicSpool = true }, func(c *client) {
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
			c.send(msg + ".\r\n")
			c.expect("421 4.3.0 internal error")
		}},
		{"spool in BDAT", func(f *fakeStore) { f.panicSpool = true }, func(c *client) {
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.bdat(msg, true)
			c.expect("421 4.3.0 internal error")
		}},
		{"deliver", func(f *fakeStore) { f.panicDlv = true }, func(c *client) {
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.bdat(msg, true)
			c.expect("421 4.3.0 internal error")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := scriptStore()
			tc.set(st)
			_, addr, logs := startServer(t, testOptions(st))
			c := dial(t, addr)
			c.lhlo()
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			tc.run(c)
			c.expectClosed()
			log := logs.String()
			if !strings.Contains(log, "lmtp: panic") || !strings.Contains(log, "goroutine ") || !strings.Contains(log, "session=") {
				t.Errorf("panic not logged with its stack and session:\n%s", log)
			}
			c = dial(t, addr)
			c.do("NOOP", "250 2.0.0 ok")
		})
	}
}

func TestCloseIdle(t *testing.T) {
	srv, addr, _ := startServer(t, testOptions(scriptStore()))
	c := dial(t, addr)
	c.lhlo()
	start := time.Now()
	if err := srv.Shutdown(graceCtx(t, 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Shutdown took %v with only idle sessions", took)
	}
	c.expect("421 4.3.2 lmtp.test shutting down")
	c.expectClosed()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("connection accepted after Close")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(ln); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestCloseFinishesTransaction lets a session in a transaction finish it
// before it is told the server is closing.
func TestCloseFinishesTransaction(t *testing.T) {
	st := scriptStore()
	srv, addr, _ := startServer(t, testOptions(st))
	c := dial(t, addr)
	c.lhlo()
	c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	closed := make(chan struct{})
	go func() {
		if err := srv.Shutdown(graceCtx(t, 2*time.Second)); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		close(closed)
	}()
	time.Sleep(100 * time.Millisecond)
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	c.send(msg + ".\r\n")
	c.expect("250 2.0.0 <alice@example.org> delivered", "421 4.3.2 lmtp.test shutting down")
	c.expectClosed()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Fatal("Shutdown did not return after the last session ended")
	}
}

// TestCloseGrace bounds how long Shutdown waits for a stalled transaction.
func TestCloseGrace(t *testing.T) {
	srv, addr, _ := startServer(t, testOptions(scriptStore()))
	c := dial(t, addr)
	c.lhlo()
	c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
	start := time.Now()
	if err := srv.Shutdown(graceCtx(t, 300*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown past its grace: %v", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("Shutdown took %v, want about the 300ms grace", took)
	}
	c.expectClosed()
}

// graceCtx is a shutdown grace for a test.
func graceCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestDeliveryLog(t *testing.T) {
	_, addr, logs := startServer(t, testOptions(scriptStore()))
	c := dial(t, addr)
	c.lhlo()
	c.transact("s@remote.test", "alice+x@example.org")
	c.expect("250 2.0.0 <alice+x@example.org> delivered")
	c.do("QUIT", "221 2.0.0 lmtp.test closing connection")
	c.expectClosed()
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="lmtp: delivery"`) {
			line = l
		}
	}
	for _, want := range []string{"level=INFO", "session=", "remote=127.0.0.1:", "from=s@remote.test",
		"rcpt=alice+x@example.org", fmt.Sprintf("size=%d", len(msg)), "blob=", `result="250 2.0.0"`, "duration="} {
		if !strings.Contains(line, want) {
			t.Errorf("delivery log %q lacks %q", line, want)
		}
	}
}

// TestDroppedConnection ends sessions whose client vanished in the middle
// of DATA or BDAT: nothing is delivered, and the session's slot is freed.
func TestDroppedConnection(t *testing.T) {
	st := scriptStore()
	o := testOptions(st)
	o.MaxConnections = 1
	_, addr, _ := startServer(t, o)
	// next waits for the only slot to be free and returns the connection.
	next := func() *client {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			l, c := firstLine(t, addr)
			if strings.HasPrefix(l, "220 ") {
				return &client{t: t, c: c, r: bufio.NewReader(c)}
			}
			if time.Now().After(deadline) {
				t.Fatalf("a dropped session still holds its slot: %q", l)
			}
		}
	}
	for _, tail := range []string{"DATA\r\nSubject: cut\r\n\r\nhalf a mess", "BDAT 100 LAST\r\nten bytes.", "BDAT 5\r\nfive.BDAT 9"} {
		c := next()
		c.lhlo()
		c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
		c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
		c.send(tail)
		time.Sleep(20 * time.Millisecond)
		c.c.Close()
	}
	next().do("NOOP", "250 2.0.0 ok")
	if spools, ds := st.calls(); spools > 3 || len(ds) != 0 {
		t.Errorf("%d spools, %d deliveries after dropped connections", spools, len(ds))
	}
}
