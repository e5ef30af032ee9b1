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
	codes []string
}

func (o *recordingObserver) Delivery(code string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes = append(o.codes, code)
}

// TestObserverAndSlowCommandLog: the Observer hears each recipient's
// reply code at the end of DATA (not RCPT's refusals); with SlowCommand
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
	codes := obs.codes
	obs.mu.Unlock()
	if want := []string{"250", "451"}; !reflect.DeepEqual(codes, want) {
		t.Errorf("observed deliveries %v, want %v", codes, want)
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
