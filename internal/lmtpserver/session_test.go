package lmtpserver

import (
	"errors"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
)

// step is one command and the reply lines it must get.
type step struct {
	cmd  string
	want []string
}

func s(cmd string, want ...string) step { return step{cmd, want} }

func scriptStore() *fakeStore {
	st := newFakeStore("alice@example.org", "bob@example.org", "carol@example.org",
		"dave@example.org", "erin@example.org", "frank@example.org")
	st.userErr["flaky@example.org"] = mail.Unavailable("lookup", errors.New("directory timeout"))
	st.userErr["weird@example.org"] = errors.New("something odd")
	return st
}

// TestCommands runs short scripted sessions, each on its own connection,
// after the greeting.
func TestCommands(t *testing.T) {
	const from = "MAIL FROM:<sender@remote.test>"
	mailOK := s(from, "250 2.1.0 sender <sender@remote.test> ok")
	lhlo := s("LHLO mta.test", lhloReply...)
	tests := []struct {
		name  string
		steps []step
	}{
		{"lhlo without domain", []step{s("LHLO", "501 5.5.4 LHLO requires a domain or address literal")}},
		{"helo refused", []step{s("HELO mta.test", "500 5.5.1 this is an LMTP server: use LHLO")}},
		{"ehlo refused", []step{s("EHLO mta.test", "500 5.5.1 this is an LMTP server: use LHLO")}},
		{"lower-case lhlo", []step{s("lhlo mta.test", lhloReply...)}},
		{"mail before lhlo", []step{s(from, "503 5.5.1 send LHLO first")}},
		{"rcpt before mail", []step{lhlo, s("RCPT TO:<alice@example.org>", "503 5.5.1 need MAIL command")}},
		{"data before mail", []step{lhlo, s("DATA", "503 5.5.1 need MAIL command")}},
		{"nested mail", []step{lhlo, mailOK, s(from, "503 5.5.1 nested MAIL command")}},
		{"mail syntax", []step{lhlo, s("MAIL <a@b>", "501 5.5.4 syntax: MAIL FROM:<address>")}},
		{"mail bad path", []step{lhlo, s("MAIL FROM:<a@b", "501 5.1.7 bad sender address syntax")}},
		{"mail control char", []step{lhlo, s("MAIL FROM:<a\x01@b>", "501 5.1.7 bad sender address syntax")}},
		{"mail null path", []step{lhlo, s("MAIL FROM:<>", "250 2.1.0 sender <> ok")}},
		{"mail lower case, space", []step{lhlo, s("mail from: <a@b>", "250 2.1.0 sender <a@b> ok")}},
		{"mail no brackets", []step{lhlo, s("MAIL FROM:a@b SIZE=10", "250 2.1.0 sender <a@b> ok")}},
		{"mail size within", []step{lhlo, s(from+" SIZE=65536", "250 2.1.0 sender <sender@remote.test> ok")}},
		{"mail size over", []step{lhlo, s(from+" SIZE=65537", "552 5.3.4 message size exceeds fixed limit"),
			mailOK}},
		{"mail size huge", []step{lhlo, s(from+" SIZE=99999999999999999999999", "552 5.3.4 message size exceeds fixed limit")}},
		{"mail size bad", []step{lhlo, s(from+" SIZE=12k", "501 5.5.4 bad SIZE value")}},
		{"mail body and utf8", []step{lhlo, s(from+" BODY=8BITMIME SMTPUTF8", "250 2.1.0 sender <sender@remote.test> ok")}},
		{"mail utf8 address", []step{lhlo, s("MAIL FROM:<jörg@exämple.test> SMTPUTF8", "250 2.1.0 sender <jörg@exämple.test> ok")}},
		{"mail binarymime", []step{lhlo, s(from+" BODY=BINARYMIME", "555 5.5.4 unsupported BODY value")}},
		{"mail unknown param", []step{lhlo, s(from+" RET=FULL", "555 5.5.4 unsupported MAIL parameter")}},
		{"rcpt ok", []step{lhlo, mailOK, s("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok")}},
		{"rcpt detail", []step{lhlo, mailOK, s("RCPT TO:<Alice+news@Example.org>", "250 2.1.5 <Alice+news@Example.org> ok")}},
		{"rcpt source route", []step{lhlo, mailOK, s("RCPT TO:<@relay.test,@b.test:bob@example.org>", "250 2.1.5 <bob@example.org> ok")}},
		{"rcpt unknown", []step{lhlo, mailOK, s("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such user here")}},
		{"rcpt quoted", []step{lhlo, mailOK, s(`RCPT TO:<"x y>"@example.org>`, `550 5.1.1 <"x y>"@example.org>: no such user here`)}},
		{"rcpt no domain", []step{lhlo, mailOK, s("RCPT TO:<postmaster>", "550 5.1.1 <postmaster>: no such user here")}},
		{"rcpt unavailable", []step{lhlo, mailOK, s("RCPT TO:<flaky@example.org>", "451 4.3.0 <flaky@example.org>: temporary failure, try again later")}},
		{"rcpt other error", []step{lhlo, mailOK, s("RCPT TO:<weird@example.org>", "451 4.3.0 <weird@example.org>: temporary failure, try again later")}},
		{"rcpt syntax", []step{lhlo, mailOK, s("RCPT alice@example.org", "501 5.5.4 syntax: RCPT TO:<address>")}},
		{"rcpt null", []step{lhlo, mailOK, s("RCPT TO:<>", "501 5.1.3 bad recipient address syntax")}},
		{"rcpt param", []step{lhlo, mailOK, s("RCPT TO:<alice@example.org> NOTIFY=NEVER", "555 5.5.4 unsupported RCPT parameter")}},
		{"rcpt limit", []step{lhlo, mailOK,
			s("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok"),
			s("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such user here"),
			s("RCPT TO:<bob@example.org>", "250 2.1.5 <bob@example.org> ok"),
			s("RCPT TO:<carol@example.org>", "250 2.1.5 <carol@example.org> ok"),
			s("RCPT TO:<dave@example.org>", "250 2.1.5 <dave@example.org> ok"),
			s("RCPT TO:<erin@example.org>", "250 2.1.5 <erin@example.org> ok"),
			s("RCPT TO:<frank@example.org>", "452 4.5.3 too many recipients"),
		}},
		{"data without recipients", []step{lhlo, mailOK,
			s("RCPT TO:<nobody@example.org>", "550 5.1.1 <nobody@example.org>: no such user here"),
			s("DATA", "503 5.5.1 no valid recipients")}},
		{"data with argument", []step{lhlo, mailOK, s("RCPT TO:<alice@example.org>", "250 2.1.5 <alice@example.org> ok"),
			s("DATA now", "501 5.5.4 DATA takes no argument")}},
		{"rset", []step{lhlo, mailOK, s("RSET", "250 2.0.0 ok"), mailOK}},
		{"lhlo resets", []step{lhlo, mailOK, lhlo, s("RCPT TO:<alice@example.org>", "503 5.5.1 need MAIL command")}},
		{"noop", []step{s("NOOP", "250 2.0.0 ok")}},
		{"vrfy", []step{s("VRFY alice", "252 2.5.0 cannot VRFY user, but will accept mail for local users")}},
		{"starttls", []step{s("STARTTLS", "502 5.5.1 STARTTLS not implemented")}},
		{"unknown", []step{s("FROB x", "500 5.5.2 command not recognized"), s("NOOP", "250 2.0.0 ok")}},
		{"empty line", []step{s("", "500 5.5.2 empty command")}},
		{"line too long", []step{s("NOOP "+strings.Repeat("x", 600), "500 5.5.2 line too long"),
			s("NOOP "+strings.Repeat("x", 505), "250 2.0.0 ok"),
			s("NOOP "+strings.Repeat("x", 506), "500 5.5.2 line too long"),
			s("NOOP "+strings.Repeat("x", 5000), "500 5.5.2 line too long"),
			s("NOOP", "250 2.0.0 ok")}},
		{"quit", []step{s("QUIT", "221 2.0.0 lmtp.test closing connection")}},
	}
	_, addr, _ := startServer(t, testOptions(scriptStore()))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			for _, st := range tc.steps {
				c.do(st.cmd, st.want...)
			}
			if tc.steps[len(tc.steps)-1].cmd == "QUIT" {
				c.expectClosed()
			}
		})
	}
}

// TestPipelining sends a whole transaction in one write (RFC 2920) and
// checks every reply arrives, in order.
func TestPipelining(t *testing.T) {
	st := scriptStore()
	_, addr, _ := startServer(t, testOptions(st))
	c := dial(t, addr)
	c.send("LHLO mta.test\r\nMAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.org>\r\n" +
		"RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n" +
		"Subject: hi\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
	c.expect(lhloReply...)
	c.expect("250 2.1.0 sender <s@remote.test> ok",
		"250 2.1.5 <alice@example.org> ok",
		"550 5.1.1 <nobody@example.org>: no such user here",
		"250 2.1.5 <bob@example.org> ok",
		"354 start mail input; end with <CRLF>.<CRLF>",
		"250 2.0.0 <alice@example.org> delivered",
		"250 2.0.0 <bob@example.org> delivered",
		"250 2.0.0 ok",
		"221 2.0.0 lmtp.test closing connection")
	c.expectClosed()
	if got := string(st.body(t)); got != "Subject: hi\r\n\r\nbody\r\n" {
		t.Errorf("body %q", got)
	}
}

// TestCommandLineEndings accepts a bare LF as the end of a command line,
// as many servers do, but not as the end of DATA (RFC 5321 4.1.1.4).
func TestCommandLineEndings(t *testing.T) {
	st := scriptStore()
	_, addr, _ := startServer(t, testOptions(st))
	c := dial(t, addr)
	c.send("LHLO mta.test\n")
	c.expect(lhloReply...)
	c.send("MAIL FROM:<s@remote.test>\nRCPT TO:<alice@example.org>\nDATA\n")
	c.expect("250 2.1.0 sender <s@remote.test> ok", "250 2.1.5 <alice@example.org> ok",
		"354 start mail input; end with <CRLF>.<CRLF>")
	c.send("a\n.\nb\r\n.\r\n")
	c.expect("250 2.0.0 <alice@example.org> delivered")
	// Only CRLF ends a line, so the dot after a bare LF is a message byte.
	if got := string(st.body(t)); got != "a\n.\nb\r\n" {
		t.Errorf("body %q", got)
	}
}
