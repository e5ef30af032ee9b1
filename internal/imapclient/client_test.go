package imapclient

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"reflect"
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

// TestFetchBodiesStreams checks that one UID FETCH of bodies yields the
// messages in the order the server sends them, passes over a FETCH
// without a body (another session's flag change), ends with io.EOF at
// the tagged OK, and that no other command goes out while the batch is
// unread; after a reply cut inside a literal, the client refuses every
// command.
func TestFetchBodiesStreams(t *testing.T) {
	caps := "* CAPABILITY IMAP4rev1\r\nTAG OK done\r\n"
	for _, cut := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		reply := "* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 4 FETCH (BODY[] {2}\r\nxy UID 9)\r\nTAG OK done\r\n"
		script := [][2]string{{"CAPABILITY", caps}, {"UID FETCH 3:9 (UID BODY.PEEK[])", reply}, {"LOGOUT", "* BYE bye\r\nTAG OK done\r\n"}}
		if cut {
			script = [][2]string{{"CAPABILITY", caps}, {"UID FETCH 3:9 (UID BODY.PEEK[])", "* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n* 4 FETCH (UID 9 BODY[] {20}\r\nxy"}}
		}
		done := scripted(t, ln, "* OK ready\r\n", script)
		c, err := Dial(context.Background(), Options{Addr: ln.Addr().String(), Security: "plain"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.FetchBodies(9, 3); err == nil {
			t.Errorf("FetchBodies(9, 3): no error")
		}
		b, err := c.FetchBodies(3, 9)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Do("NOOP"); err == nil || !strings.Contains(err.Error(), "still being read") {
			t.Errorf("NOOP during the batch: %v, want a refusal", err)
		}
		var got []string
		for {
			m, err := b.Next()
			if err != nil {
				got = append(got, err.Error())
				break
			}
			got = append(got, fmt.Sprintf("%d %s", m.UID, m.Body))
		}
		if cut {
			if len(got) != 2 || got[0] != "3 abc" || !strings.Contains(got[1], "unexpected EOF") {
				t.Errorf("cut batch: %q, want 3 abc then an unexpected EOF", got)
			}
			if _, err := c.Do("LOGOUT"); err == nil || !strings.Contains(err.Error(), "broke before") {
				t.Errorf("LOGOUT after the cut: %v, want a refusal", err)
			}
			c.Close()
		} else {
			if !reflect.DeepEqual(got, []string{"3 abc", "9 xy", "EOF"}) {
				t.Errorf("batch: %q, want 3 abc, 9 xy, EOF", got)
			}
			if err := c.Logout(); err != nil {
				t.Errorf("Logout after the batch: %v", err)
			}
		}
		<-done
		ln.Close()
	}
}
