package lmtpserver

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

const msg = "From: s@remote.test\r\nSubject: test\r\n\r\nHello.\r\n"

// transact runs MAIL, the RCPTs (all must be accepted) and DATA with msg.
func (c *client) transact(from string, rcpts ...string) {
	c.t.Helper()
	c.do("MAIL FROM:<"+from+">", "250 2.1.0 sender <"+from+"> ok")
	for _, r := range rcpts {
		c.do("RCPT TO:<"+r+">", "250 2.1.5 <"+r+"> ok")
	}
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	c.send(msg + ".\r\n")
}

// TestDataReplies checks one reply per recipient, in RCPT order, for each
// Deliver or Spool result (RFC 2033 4.2), and that a transaction spools
// once and delivers once.
func TestDataReplies(t *testing.T) {
	tests := []struct {
		name       string
		deliverErr map[string]error
		spoolErr   error
		want       []string // for alice, bob, carol
	}{
		{"all delivered", nil, nil, []string{
			"250 2.0.0 <alice@example.org> delivered",
			"250 2.0.0 <bob@example.org> delivered",
			"250 2.0.0 <carol@example.org> delivered"}},
		{"mixed", map[string]error{
			"alice@example.org": fmt.Errorf("%w: 10 of 10", mail.ErrOverQuota),
			"carol@example.org": mail.Unavailable("commit", errors.New("timeout")),
		}, nil, []string{
			"552 5.2.2 <alice@example.org> mailbox full",
			"250 2.0.0 <bob@example.org> delivered",
			"451 4.3.0 <carol@example.org> temporary failure, try again later"}},
		{"gone, odd, too big", map[string]error{
			"alice@example.org": mail.ErrNoSuchUser,
			"bob@example.org":   errors.New("disk on fire"),
			"carol@example.org": mail.ErrTooBig,
		}, nil, []string{
			"550 5.1.1 <alice@example.org> no such user here",
			"451 4.3.0 <bob@example.org> temporary failure, try again later",
			"552 5.3.4 <carol@example.org> message too large"}},
		{"temporary wins", map[string]error{
			"bob@example.org": mail.Unavailable("quota", mail.ErrOverQuota),
		}, nil, []string{
			"250 2.0.0 <alice@example.org> delivered",
			"451 4.3.0 <bob@example.org> temporary failure, try again later",
			"250 2.0.0 <carol@example.org> delivered"}},
		{"disk full", map[string]error{
			"bob@example.org": mail.Unavailable("put body", &os.PathError{Op: "write", Path: "/data/tmp/x", Err: syscall.ENOSPC}),
		}, nil, []string{
			"250 2.0.0 <alice@example.org> delivered",
			"452 4.3.1 <bob@example.org> insufficient system storage, try again later",
			"250 2.0.0 <carol@example.org> delivered"}},
		{"spool disk full", nil, mail.Unavailable("spool", syscall.ENOSPC), []string{
			"452 4.3.1 <alice@example.org> insufficient system storage, try again later",
			"452 4.3.1 <bob@example.org> insufficient system storage, try again later",
			"452 4.3.1 <carol@example.org> insufficient system storage, try again later"}},
		{"spool unavailable", nil, mail.Unavailable("spool", errors.New("no space")), []string{
			"451 4.3.0 <alice@example.org> temporary failure, try again later",
			"451 4.3.0 <bob@example.org> temporary failure, try again later",
			"451 4.3.0 <carol@example.org> temporary failure, try again later"}},
		{"spool too big", nil, mail.ErrTooBig, []string{
			"552 5.3.4 <alice@example.org> message too large",
			"552 5.3.4 <bob@example.org> message too large",
			"552 5.3.4 <carol@example.org> message too large"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := scriptStore()
			for k, v := range tc.deliverErr {
				st.deliverErr[k] = v
			}
			st.spoolErr = tc.spoolErr
			_, addr, logs := startServer(t, testOptions(st))
			c := dial(t, addr)
			c.lhlo()
			c.transact("s@remote.test", "alice@example.org", "bob@example.org", "carol@example.org")
			c.expect(tc.want...)
			c.do("NOOP", "250 2.0.0 ok")
			spools, delivered := st.calls()
			if spools != 1 {
				t.Errorf("%d spools, want 1", spools)
			}
			if tc.spoolErr != nil {
				return
			}
			if len(delivered) != 1 {
				t.Fatalf("%d Deliver calls, want 1", len(delivered))
			}
			d := delivered[0]
			if want := []string{"alice@example.org", "bob@example.org", "carol@example.org"}; !slices.Equal(d.users, want) || d.returnPath != "s@remote.test" {
				t.Errorf("delivered %+v", d)
			}
			if strings.Contains(tc.name, "odd") && !strings.Contains(logs.String(), "disk on fire") {
				t.Errorf("the unexpected error is not logged")
			}
		})
	}
}

// TestTooBigThenNext sends a message over the limit: every recipient gets
// 552 5.3.4, the rest of DATA is discarded, and the next transaction on
// the same connection works.
func TestTooBigThenNext(t *testing.T) {
	st := scriptStore()
	o := testOptions(st)
	o.MaxMessageSize = 1000
	_, addr, _ := startServer(t, o)
	c := dial(t, addr)
	c.do("LHLO mta.test", "250-lmtp.test", "250-PIPELINING", "250-ENHANCEDSTATUSCODES",
		"250-8BITMIME", "250-SIZE 1000", "250-CHUNKING", "250 SMTPUTF8")
	c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	c.do("RCPT TO:<bob@example.org>", "250 2.1.5 <bob@example.org> ok")
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	// Lines that look like commands must not be taken for commands.
	c.send(strings.Repeat("RSET\r\nQUIT\r\n", 2000) + ".\r\n")
	c.expect("552 5.3.4 <alice@example.org> message too large",
		"552 5.3.4 <bob@example.org> message too large")
	c.transact("s@remote.test", "carol@example.org")
	c.expect("250 2.0.0 <carol@example.org> delivered")
	if got := string(st.body(t)); got != msg {
		t.Errorf("body %q", got)
	}
	// Exactly at the limit is fine.
	c.transact("s@remote.test", "carol@example.org")
	c.expect("250 2.0.0 <carol@example.org> delivered")
	c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
	c.do("RCPT TO:<carol@example.org>", "250 2.1.5 <carol@example.org> ok")
	c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
	c.send(strings.Repeat("x", 998) + "\r\n.\r\n")
	c.expect("250 2.0.0 <carol@example.org> delivered")
}

// TestDotUnstuffing checks that DATA bodies are stored byte for byte
// after removing the dot-stuffing (RFC 5321 4.5.2), and nothing else.
func TestDotUnstuffing(t *testing.T) {
	long := strings.Repeat("y", 4094) // with CRLF, fills bufio's buffer exactly
	tests := []struct{ name, wire, want string }{
		{"empty", ".\r\n", ""},
		{"plain", "a\r\nb\r\n.\r\n", "a\r\nb\r\n"},
		{"stuffed dot", "..\r\n.\r\n", ".\r\n"},
		{"stuffed line", "..hidden\r\n.x\r\n.\r\n", ".hidden\r\nx\r\n"},
		{"dot then lone CR", "a\r\n.\rX\r\n.\r\n", "a\r\n\rX\r\n"},
		{"dot then LF", "a\r\n.\nX\r\n.\r\n", "a\r\n\nX\r\n"},
		{"dot after bare LF is data", "a\n.\r\n.\r\n", "a\n.\r\n"},
		{"dot after bare CR is data", "a\r.\r\n.\r\n", "a\r.\r\n"},
		{"lone CR and LF", "a\rb\nc\r\r\n\n\r\n.\r\n", "a\rb\nc\r\r\n\n\r\n"},
		{"no final CRLF in body", "abc\r\n.\r\n", "abc\r\n"},
		{"binary", "\x00\xff\xfe\r\n\x1b[0m\r\n.\r\n", "\x00\xff\xfe\r\n\x1b[0m\r\n"},
		{"line fills buffer", long + "\r\n.dot\r\n.\r\n", long + "\r\ndot\r\n"},
		{"CR at buffer end", strings.Repeat("z", 4095) + "\r\n..\r\n.\r\n", strings.Repeat("z", 4095) + "\r\n.\r\n"},
		{"long line", strings.Repeat("w", 20000) + "\r\n.\r\n", strings.Repeat("w", 20000) + "\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := scriptStore()
			_, addr, _ := startServer(t, testOptions(st))
			c := dial(t, addr)
			c.lhlo()
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.do("DATA", "354 start mail input; end with <CRLF>.<CRLF>")
			c.send(tc.wire)
			c.expect("250 2.0.0 <alice@example.org> delivered")
			c.do("NOOP", "250 2.0.0 ok")
			if got := string(st.body(t)); got != tc.want {
				t.Errorf("stored %q\nwant   %q", got, tc.want)
			}
			if _, ds := st.calls(); ds[0].returnPath != "" {
				t.Errorf("return path %q, want empty", ds[0].returnPath)
			}
		})
	}
}

// TestSameUserTwice delivers once to a user named by two recipients and
// answers both.
func TestSameUserTwice(t *testing.T) {
	st := scriptStore()
	_, addr, _ := startServer(t, testOptions(st))
	c := dial(t, addr)
	c.lhlo()
	c.transact("s@remote.test", "alice+a@example.org", "bob@example.org", "alice+b@example.org")
	c.expect("250 2.0.0 <alice+a@example.org> delivered",
		"250 2.0.0 <bob@example.org> delivered",
		"250 2.0.0 <alice+b@example.org> delivered")
	if _, ds := st.calls(); !slices.Equal(ds[0].users, []string{"alice@example.org", "bob@example.org"}) {
		t.Errorf("delivered to %v", ds[0].users)
	}
}

// TestNoReplyBeforeDeliver checks that no DATA reply is written before
// Deliver returned.
func TestNoReplyBeforeDeliver(t *testing.T) {
	st := scriptStore()
	st.gate = make(chan struct{})
	_, addr, _ := startServer(t, testOptions(st))
	c := dial(t, addr)
	c.lhlo()
	c.transact("s@remote.test", "alice@example.org")
	_ = c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if b, err := c.r.ReadByte(); err == nil {
		t.Fatalf("got a reply byte %q before Deliver returned", b)
	}
	close(st.gate)
	c.expect("250 2.0.0 <alice@example.org> delivered")
}
