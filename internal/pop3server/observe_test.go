package pop3server

import (
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

type recordingObserver struct {
	mu       sync.Mutex
	commands [][2]string
	sessions int
}

func (o *recordingObserver) Command(name, status string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands = append(o.commands, [2]string{name, status})
}

func (o *recordingObserver) Session(delta int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sessions += delta
}

func (o *recordingObserver) state() ([][2]string, int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([][2]string(nil), o.commands...), o.sessions
}

// TestObserverAndSlowCommandLog: the Observer hears every command with
// its status and the TRANSACTION state's start and end; with SlowCommand
// each command is logged at Warn on the session's logger (protocol,
// session, remote address, and the user once logged in), by name only:
// no password reaches the log.
func TestObserverAndSlowCommandLog(t *testing.T) {
	obs := &recordingObserver{}
	var logs testkit.LogRecorder
	e := newEnv(t, store.New(backendtest.Open(t, "embedded"), store.Options{}), func(o *Options) {
		o.Observer, o.SlowCommand, o.Logger = obs, time.Nanosecond, logs.Logger()
	})
	c := e.dial()
	c.cmd("+OK", "USER %s", e.user.Address)
	c.cmd("-ERR", "PASS wrong")
	c.cmd("+OK", "user %s", e.user.Address)
	c.cmd("+OK", "PASS secret")
	c.cmd("+OK", "STAT")
	c.cmd("-ERR", "XYZZY")
	c.cmd("+OK", "QUIT")
	remote := c.nc.LocalAddr().String()

	wantCmds := [][2]string{{"USER", "+OK"}, {"PASS", "-ERR"}, {"USER", "+OK"}, {"PASS", "+OK"}, {"STAT", "+OK"}, {"XYZZY", "-ERR"}, {"QUIT", "+OK"}}
	var cmds [][2]string
	sessions := -1
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cmds, sessions = obs.state(); sessions == 0 && len(cmds) == len(wantCmds) {
			break
		}
	}
	if !reflect.DeepEqual(cmds, wantCmds) || sessions != 0 {
		t.Errorf("observed %v, sessions %d; want %v, 0", cmds, sessions, wantCmds)
	}

	type line struct{ command, status, user string }
	var got []line
	for _, r := range logs.Records("pop3: slow command") {
		if r.Level != slog.LevelWarn || r.Attrs["proto"] != "pop3" || r.Attrs["remote"] != remote || r.Attrs["session"] == "" || r.Attrs["duration"] == "" {
			t.Errorf("slow command record %v %v: want Warn with proto pop3, a session, remote %s and the duration", r.Level, r.Attrs, remote)
		}
		for k, v := range r.Attrs {
			if strings.Contains(v, "secret") || strings.Contains(v, "wrong") {
				t.Errorf("slow command record quotes a password in %s: %q", k, v)
			}
		}
		got = append(got, line{r.Attrs["command"], r.Attrs["status"], r.Attrs["user"]})
	}
	u := e.user.Address
	want := []line{{"USER", "+OK", ""}, {"PASS", "-ERR", ""}, {"USER", "+OK", ""}, {"PASS", "+OK", u}, {"STAT", "+OK", u}, {"XYZZY", "-ERR", u}, {"QUIT", "+OK", u}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("slow command log:\n got %v\nwant %v", got, want)
	}
}
