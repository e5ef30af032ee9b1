package pop3server

import (
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// TestObserverAndSlowCommandLog: the Observer hears every command with
// its status and the TRANSACTION state's start and end; with SlowCommand
// each command is logged at Warn on the session's logger (protocol,
// session, remote address, and the user once logged in), by name only:
// no password reaches the log.
func TestObserverAndSlowCommandLog(t *testing.T) {
	obs := &testkit.CommandRecorder{}
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
	cmds, sessions := obs.WaitState(len(wantCmds), 5*time.Second)
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
