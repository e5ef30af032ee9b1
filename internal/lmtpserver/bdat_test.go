package lmtpserver

import (
	"fmt"
	"strings"
	"testing"
)

// bdat sends one BDAT chunk.
func (c *client) bdat(chunk string, last bool) {
	c.t.Helper()
	cmd := fmt.Sprintf("BDAT %d", len(chunk))
	if last {
		cmd += " LAST"
	}
	c.send(cmd + "\r\n" + chunk)
}

// TestBDAT checks CHUNKING (RFC 3030): chunks are stored as sent, without
// dot-unstuffing, and BDAT LAST gets one reply per recipient (RFC 2033 4.3).
func TestBDAT(t *testing.T) {
	st := scriptStore()
	_, addr, _ := startServer(t, testOptions(st))
	c := dial(t, addr)
	c.lhlo()
	c.do("MAIL FROM:<s@remote.test> BODY=8BITMIME", "250 2.1.0 sender <s@remote.test> ok")
	c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
	c.do("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such user here")
	c.do("RCPT TO:<bob@example.org>", "250 2.1.5 <bob@example.org> ok")
	parts := []string{"Subject: chunks\r\n\r\n", ".\r\n..not stuffed\r\n", "", "bare\rCR\nLF\r\n.\r\n"}
	c.bdat(parts[0], false)
	c.expect(fmt.Sprintf("250 2.0.0 %d octets received", len(parts[0])))
	c.do("RCPT TO:<carol@example.org>", "503 5.5.1 RCPT not allowed during BDAT")
	c.do("DATA", "503 5.5.1 DATA not allowed during BDAT")
	c.bdat(parts[1], false)
	c.expect(fmt.Sprintf("250 2.0.0 %d octets received", len(parts[1])))
	c.bdat(parts[2], false)
	c.expect("250 2.0.0 0 octets received")
	c.bdat(parts[3], true)
	c.expect("250 2.0.0 <alice@example.org> delivered", "250 2.0.0 <bob@example.org> delivered")
	c.do("NOOP", "250 2.0.0 ok")
	if got, want := string(st.body(t)), strings.Join(parts, ""); got != want {
		t.Errorf("stored %q\nwant   %q", got, want)
	}
}

// TestBDATScripts covers refused and oversized chunks: in each case the
// chunk is read and the session stays in sync.
func TestBDATScripts(t *testing.T) {
	tests := []struct {
		name string
		run  func(c *client)
	}{
		{"no transaction", func(c *client) {
			c.bdat("NOOP\r\n", true)
			c.expect("503 5.5.1 need MAIL command")
		}},
		{"no recipients", func(c *client) {
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			c.bdat("QUIT\r\n", false)
			c.expect("503 5.5.1 no valid recipients")
		}},
		{"bad LAST", func(c *client) {
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.send("BDAT 6 FIRST\r\nQUIT\r\n")
			c.expect("501 5.5.4 syntax: BDAT <size> [LAST]")
		}},
		{"last only", func(c *client) {
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.send("BDAT 0 LAST\r\n")
			c.expect("250 2.0.0 <alice@example.org> delivered")
		}},
		{"too big", func(c *client) {
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.do("RCPT TO:<bob@example.org>", "250 2.1.5 <bob@example.org> ok")
			big := strings.Repeat("QUIT\r\n", 10000)
			c.bdat(big, false)
			c.expect(fmt.Sprintf("250 2.0.0 %d octets received", len(big)))
			c.bdat(big, true)
			c.expect("552 5.3.4 <alice@example.org> message too large",
				"552 5.3.4 <bob@example.org> message too large")
		}},
		{"rset aborts", func(c *client) {
			c.do("MAIL FROM:<>", "250 2.1.0 sender <> ok")
			c.do("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")
			c.bdat("partial", false)
			c.expect("250 2.0.0 7 octets received")
			c.do("RSET", "250 2.0.0 ok")
			c.bdat("x", true)
			c.expect("503 5.5.1 need MAIL command")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := scriptStore()
			_, addr, _ := startServer(t, testOptions(st))
			c := dial(t, addr)
			c.lhlo()
			tc.run(c)
			// The next transaction works.
			c.do("MAIL FROM:<s@remote.test>", "250 2.1.0 sender <s@remote.test> ok")
			c.do("RCPT TO:<carol@example.org>", "250 2.1.5 <carol@example.org> ok")
			c.bdat(msg, true)
			c.expect("250 2.0.0 <carol@example.org> delivered")
			c.do("QUIT", "221 2.0.0 lmtp.test closing connection")
		})
	}
}

// TestBDATBadSize closes the session: the chunk's end is unknown.
func TestBDATBadSize(t *testing.T) {
	_, addr, _ := startServer(t, testOptions(scriptStore()))
	for _, cmd := range []string{"BDAT", "BDAT x LAST", "BDAT -1", "BDAT 1 LAST more"} {
		c := dial(t, addr)
		c.lhlo()
		c.do(cmd, "501 5.5.4 syntax: BDAT <size> [LAST]")
		c.expectClosed()
	}
}
