package imapclient

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"testing"
)

// scripted serves one connection: for each expected command line (its
// tag stripped) it writes the given reply lines, "TAG" replaced by the
// command's tag; a command other than expected fails the test.
func scripted(t *testing.T, ln net.Listener, greeting string, script [][2]string) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		br := bufio.NewReader(nc)
		nc.Write([]byte(greeting))
		for _, step := range script {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Errorf("server: reading %q: %v", step[0], err)
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			if cmd != step[0] {
				t.Errorf("client sent %q, want %q", cmd, step[0])
				return
			}
			nc.Write([]byte(strings.ReplaceAll(step[1], "TAG", tag)))
		}
	}()
	return done
}

// TestLoginChoosesTheMechanism checks that a password IMAP cannot quote
// (UTF-8) goes with SASL PLAIN, an administrator's login carries the
// user as authorization identity, and a plain one uses LOGIN.
func TestLoginChoosesTheMechanism(t *testing.T) {
	caps := "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nTAG OK done\r\n"
	for _, tc := range []struct {
		authzid, user, pass, want string
	}{
		{"", "alice", `p"w\`, `LOGIN "alice" "p\"w\\"`},
		{"", "alice", "pässword", "AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pässword"))},
		{"alice", "admin", "secret", "AUTHENTICATE PLAIN " + base64.StdEncoding.EncodeToString([]byte("alice\x00admin\x00secret"))},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := scripted(t, ln, "* OK ready\r\n", [][2]string{{"CAPABILITY", caps}, {tc.want, "TAG OK logged in\r\n"}, {"CAPABILITY", caps}, {"LOGOUT", "* BYE bye\r\nTAG OK done\r\n"}})
		c, err := Dial(context.Background(), Options{Addr: ln.Addr().String(), Security: "plain"})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(tc.authzid, tc.user, tc.pass); err != nil {
			t.Errorf("Login(%q, %q): %v", tc.authzid, tc.user, err)
		}
		if err := c.Logout(); err != nil {
			t.Errorf("Logout: %v", err)
		}
		<-done
		ln.Close()
	}
}

// TestErrorsQuoteTheServer checks that a refused command is an error
// with the server's words and without the command's arguments.
func TestErrorsQuoteTheServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := scripted(t, ln, "* OK ready\r\n", [][2]string{{"CAPABILITY", "* CAPABILITY IMAP4rev1\r\nTAG OK done\r\n"},
		{`LOGIN "alice" "secret"`, "TAG NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"}})
	c, err := Dial(context.Background(), Options{Addr: ln.Addr().String(), Security: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Login("", "alice", "secret")
	if err == nil || !strings.Contains(err.Error(), "NO Authentication failed.") || strings.Contains(err.Error(), "secret") {
		t.Errorf("Login: %v, want the server's NO without the password", err)
	}
	<-done
}
