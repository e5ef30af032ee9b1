package lmtpserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var replyLine = regexp.MustCompile(`^[2345][0-9][0-9][ -][^\r\n]*$`)

// FuzzSession feeds arbitrary bytes, after a LHLO, to an in-process session
// over net.Pipe with the fake store. The server must not panic, must have
// read the input or closed within a bounded time, must end within a bounded
// time once closed, and must only write well-formed reply lines, none of
// them an internal error.
func FuzzSession(f *testing.F) {
	for _, seed := range []string{
		"MAIL FROM:<s@x>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n",
		"MAIL FROM:<> SIZE=10\r\nRCPT TO:<alice+b@example.org>\r\nRCPT TO:<nobody@x>\r\nBDAT 5\r\nhelloBDAT 0 LAST\r\n",
		"MAIL FROM:<\"q>\"@x> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<@r:bob@example.org>\r\nDATA\r\n..\r\n.\rx\r\n.\r\nRSET\r\n",
		"MAIL FROM:<a@b>\r\nRCPT TO:<flaky@example.org>\r\nRCPT TO:<weird@example.org>\r\nDATA\r\n",
		"MAIL FROM:<a@b>\r\nRCPT TO:<carol@example.org>\r\nDATA\r\n" + strings.Repeat("x", 3000) + "\r\n.\r\nNOOP\r\n",
		"MAIL FROM:<a@b>\r\nRCPT TO:<carol@example.org>\r\nBDAT 3000 LAST\r\n" + strings.Repeat("y", 3000),
		"RSET\r\nNOOP\r\nVRFY x\r\nHELO x\r\n\r\nBDAT\r\n",
		"BDAT 3 LAST\r\nabcQUIT\r\n",
		strings.Repeat("A", 300) + "\r\nNOOP\n",
		"MAIL FROM:<a@b>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\npartial",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		st := scriptStore()
		srv := New(Options{
			Store: st, Logger: slog.New(slog.DiscardHandler), Hostname: "fuzz",
			MaxMessageSize: 2048, MaxRecipients: 3, MaxLineLength: 128,
			Timeout: 2 * time.Second,
		})
		cc, sc := net.Pipe()
		defer cc.Close()
		go srv.Serve(newOneConn(sc))
		wrote := make(chan struct{})
		go func() {
			_, _ = cc.Write(append([]byte("LHLO fuzz\r\n"), in...))
			close(wrote)
		}()
		// The server answers the LHLO within a bounded time.
		br := bufio.NewReader(cc)
		_ = cc.SetReadDeadline(time.Now().Add(5 * time.Second))
		var head string
		for !strings.HasPrefix(head, "220") || !strings.Contains(head, "250 ") {
			l, err := br.ReadString('\n')
			head += l
			if err != nil {
				t.Fatalf("no greeting and LHLO reply within 5s: %q, %v", head, err)
			}
		}
		if want := "220 fuzz LMTP server ready\r\n250-fuzz\r\n"; !strings.HasPrefix(head, want) {
			t.Fatalf("greeting and LHLO reply %q", head)
		}
		_ = cc.SetReadDeadline(time.Time{})
		out := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(br)
			out <- b
		}()
		// It reads the whole input, or closes, within a bounded time.
		select {
		case <-wrote:
		case <-time.After(5 * time.Second):
			t.Fatal("the server neither read the input nor closed within 5s")
		}
		// Once closed, it ends the session within a bounded time.
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_ = srv.Shutdown(ctx)
		cancel()
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("Shutdown took %v", took)
		}
		var b []byte
		select {
		case b = <-out:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection is still open after Close")
		}
		// Every complete line is a reply; a line cut short when Close gave
		// up on the session is not checked.
		lines := strings.Split(string(b), "\r\n")
		for _, l := range lines[:len(lines)-1] {
			if !replyLine.MatchString(l) {
				t.Fatalf("malformed reply line %q", l)
			}
			if strings.HasPrefix(l, "421 4.3.0") {
				t.Fatalf("internal error: %q", l)
			}
		}
	})
}

// oneConn is a listener that yields one connection, then none until it is
// closed.
type oneConn struct {
	c      chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newOneConn(c net.Conn) *oneConn {
	l := &oneConn{c: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.c <- c
	return l
}

func (l *oneConn) Accept() (net.Conn, error) {
	select {
	case c := <-l.c:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConn) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *oneConn) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
