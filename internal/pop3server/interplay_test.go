package pop3server

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/imapserver"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// imapCmd runs one tagged command on a raw IMAP connection and returns
// every line up to and including the tagged reply.
func imapCmd(t *testing.T, br *bufio.Reader, nc net.Conn, tag, cmd string) []string {
	t.Helper()
	fmt.Fprintf(nc, "%s %s\r\n", tag, cmd)
	var out []string
	for {
		_ = nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("imap %s: %v", cmd, err)
		}
		l = strings.TrimRight(l, "\r\n")
		out = append(out, l)
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				t.Fatalf("imap %s: %s", cmd, l)
			}
			return out
		}
	}
}

// TestPOP3DeleteSeenByIMAP deletes over POP3 and checks that an IMAP
// session sees VANISHED live and that a QRESYNC resync reports it.
func TestPOP3DeleteSeenByIMAP(t *testing.T) {
	for _, name := range []string{"embedded", "cassandra"} {
		t.Run(name, func(t *testing.T) {
			hub := notify.NewHub()
			st := store.New(backendtest.Open(t, name), store.Options{Publish: hub.Publish})
			e := newEnv(t, st, nil)
			e.deliver("Subject: a\r\n\r\na\r\n")
			e.deliver("Subject: b\r\n\r\nb\r\n")
			isrv := imapserver.New(imapserver.Options{Store: st, Hub: hub, AllowPlaintext: true,
				Auth: login.NewAuthenticator(st, login.NewGuard(login.GuardOptions{}), nil)})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go isrv.Serve(ln)
			t.Cleanup(func() { isrv.Close() })
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			br.ReadString('\n')
			imapCmd(t, br, nc, "a", "LOGIN "+e.user.Address+" secret")
			imapCmd(t, br, nc, "b", "ENABLE QRESYNC")
			sel := strings.Join(imapCmd(t, br, nc, "c", "SELECT INBOX"), "\n")
			uv := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(sel)[1]
			hms := regexp.MustCompile(`HIGHESTMODSEQ (\d+)`).FindStringSubmatch(sel)[1]

			p := e.login()
			p.cmd("+OK", "DELE 1")
			p.cmd("+OK", "QUIT")

			if got := strings.Join(imapCmd(t, br, nc, "d", "NOOP"), "\n"); !strings.Contains(got, "* VANISHED 1") {
				t.Fatalf("live IMAP session after POP3 QUIT:\n%s", got)
			}
			imapCmd(t, br, nc, "e", "UNSELECT")
			got := strings.Join(imapCmd(t, br, nc, "f", "SELECT INBOX (QRESYNC ("+uv+" "+hms+"))"), "\n")
			if !strings.Contains(got, "* VANISHED (EARLIER) 1") || !strings.Contains(got, "* 1 EXISTS") {
				t.Fatalf("QRESYNC after POP3 delete:\n%s", got)
			}
		})
	}
}
