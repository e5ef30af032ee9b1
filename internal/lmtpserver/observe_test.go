package lmtpserver

import (
	"errors"
	"log/slog"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/testkit"
)

type recordingObserver struct {
	mu    sync.Mutex
	codes []string // Delivery's
	rcpts []string // Recipient's
}

func (o *recordingObserver) Recipient(code string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rcpts = append(o.rcpts, code)
}

func (o *recordingObserver) Delivery(code string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
}

// TestObserverAndSlowCommandLog: the Observer hears each RCPT's reply
// code, refusals included, and each accepted recipient's reply code at
// the end of DATA; with SlowCommand
// every command is logged at Warn on the session's logger, which names
// the protocol, the session and the remote address.
func TestObserverAndSlowCommandLog(t *testing.T) {
	st := scriptStore()
	st.deliverErr["bob@example.org"] = mail.Unavailable("quota", errors.New("timeout"))
	obs := &recordingObserver{}
	var logs testkit.LogRecorder
	o := testOptions(st)
	o.Observer, o.SlowCommand, o.Logger = obs, time.Nanosecond, logs.Logger()
	srv := New(o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	c := dial(t, ln.Addr().String())
	c.lhlo()
	c.send("MAIL FROM:<s@remote.test>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\n" +
		"RCPT TO:<bob@example.org>\r\nDATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n")
	c.expect("250 2.1.0 sender <s@remote.test> ok",
		"250 2.1.5 <alice@example.org> ok",
		"550 5.1.1 <nobody@example.org>: no such user here",
		"250 2.1.5 <bob@example.org> ok",
		"354 start mail input; end with <CRLF>.<CRLF>",
		"250 2.0.0 <alice@example.org> delivered",
		"451 4.3.0 <bob@example.org> temporary failure, try again later",
		"221 2.0.0 lmtp.test closing connection")
	c.expectClosed()
	remote := c.c.LocalAddr().String()

	obs.mu.Lock()
	codes, rcpts := obs.codes, obs.rcpts
	obs.mu.Unlock()
	if want := []string{"250", "451"}; !reflect.DeepEqual(codes, want) {
		t.Errorf("observed deliveries %v, want %v", codes, want)
	}
	if want := []string{"250", "550", "250"}; !reflect.DeepEqual(rcpts, want) {
		t.Errorf("observed RCPT replies %v, want %v", rcpts, want)
	}
	var cmds []string
	for _, r := range logs.Records("lmtp: slow command") {
		if r.Level != slog.LevelWarn || r.Attrs["proto"] != "lmtp" || r.Attrs["session"] == "" || r.Attrs["remote"] != remote || r.Attrs["duration"] == "" {
			t.Errorf("slow command record %v %v: want Warn with proto lmtp, a session, remote %s and the duration", r.Level, r.Attrs, remote)
		}
		cmds = append(cmds, r.Attrs["command"])
	}
	if want := []string{"LHLO", "MAIL", "RCPT", "RCPT", "RCPT", "DATA", "QUIT"}; !reflect.DeepEqual(cmds, want) {
		t.Errorf("slow commands logged %v, want %v", cmds, want)
	}
	for _, r := range logs.Records("lmtp: delivery") {
		if r.Attrs["proto"] != "lmtp" || r.Attrs["session"] == "" || r.Attrs["remote"] != remote {
			t.Errorf("delivery record %v: want proto lmtp, a session and remote %s", r.Attrs, remote)
		}
	}
}

// TestObserverHearsEveryRCPTReply: each reply to RCPT reaches the
// Observer, in order, with its code: out of sequence, syntax, a
// parameter, unknown, a failed lookup, accepted, and over MaxRecipients.
func TestObserverHearsEveryRCPTReply(t *testing.T) {
	st := scriptStore()
	st.userErr["down@example.org"] = mail.Unavailable("lookup", errors.New("node down"))
	obs := &recordingObserver{}
	o := testOptions(st)
	o.Observer, o.MaxRecipients = obs, 1
	_, addr, _ := startServer(t, o)
	c := dial(t, addr)
	c.lhlo()
	c.send("RCPT TO:<alice@example.org>\r\nMAIL FROM:<s@remote.test>\r\nRCPT <alice@example.org>\r\n" +
		"RCPT TO:<alice@example.org> NOTIFY=NEVER\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<down@example.org>\r\n" +
		"RCPT TO:<alice@example.org>\r\nRCPT TO:<bob@example.org>\r\nQUIT\r\n")
	c.expect("503 5.5.1 need MAIL command",
		"250 2.1.0 sender <s@remote.test> ok",
		"501 5.5.4 syntax: RCPT TO:<address>",
		"555 5.5.4 unsupported RCPT parameter",
		"550 5.1.1 <nobody@example.org>: no such user here",
		"451 4.3.0 <down@example.org>: temporary failure, try again later",
		"250 2.1.5 <alice@example.org> ok",
		"452 4.5.3 too many recipients",
		"221 2.0.0 lmtp.test closing connection")
	c.expectClosed()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if want := []string{"503", "501", "555", "550", "451", "250", "452"}; !reflect.DeepEqual(obs.rcpts, want) {
		t.Errorf("observed RCPT replies %v, want %v", obs.rcpts, want)
	}
	if len(obs.codes) != 0 {
		t.Errorf("deliveries observed without DATA: %v", obs.codes)
	}
}
