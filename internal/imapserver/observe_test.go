package imapserver

import (
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// TestObserverAndSlowCommandLog: the Observer hears every command with
// its tagged status (one that does not parse with name "") and the
// authenticated session's start and end; with SlowCommand every command
// that ran (here: all of them are slower than 1 ns) but IDLE is logged at Warn on the session's logger, which names the
// protocol, the session, the remote address and, once logged in, the
// user.
func TestObserverAndSlowCommandLog(t *testing.T) {
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
	obs := &testkit.CommandRecorder{}
	var logs testkit.LogRecorder
	e := newEnv(t, st, hub, func(o *Options) {
		o.Observer, o.SlowCommand, o.Logger = obs, time.Nanosecond, logs.Logger()
	})
	c := e.dial()
	c.expect("NO", "LOGIN %s wrong", quoteArg(e.user.Address))
	c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	c.ok("SELECT INBOX")
	tag := c.send("IDLE")
	if l := c.line(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	c.raw("DONE\r\n")
	if r := c.wait(tag); r != "OK IDLE terminated" {
		t.Fatalf("IDLE: %q", r)
	}
	c.expect("BAD", "FROB")
	c.ok("LOGOUT")
	remote := c.nc.LocalAddr().String()

	wantCmds := [][2]string{{"LOGIN", "NO"}, {"LOGIN", "OK"}, {"SELECT", "OK"}, {"IDLE", "OK"}, {"", "BAD"}, {"LOGOUT", "OK"}}
	cmds, sessions := obs.WaitState(len(wantCmds), 5*time.Second)
	if !reflect.DeepEqual(cmds, wantCmds) || sessions != 0 {
		t.Errorf("observed %v, sessions %d; want %v, 0", cmds, sessions, wantCmds)
	}

	type line struct{ command, status, user string }
	var got []line
	session := ""
	for _, r := range logs.Records("imap: slow command") {
		if r.Level != slog.LevelWarn || r.Attrs["proto"] != "imap" || r.Attrs["remote"] != remote || r.Attrs["duration"] == "" {
			t.Errorf("slow command record %v %v: want Warn with proto imap, remote %s and the duration", r.Level, r.Attrs, remote)
		}
		if session == "" {
			session = r.Attrs["session"]
		}
		if r.Attrs["session"] == "" || r.Attrs["session"] != session {
			t.Errorf("slow command record %v: session %q, want one id for the whole session", r.Attrs, session)
		}
		got = append(got, line{r.Attrs["command"], r.Attrs["status"], r.Attrs["user"]})
	}
	u := e.user.Address
	want := []line{{"LOGIN", "NO", ""}, {"LOGIN", "OK", u}, {"SELECT", "OK", u}, {"LOGOUT", "OK", u}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("slow command log:\n got %v\nwant %v", got, want)
	}
}

// TestSlowCommandOff: SlowCommand 0 logs no command at Warn.
func TestSlowCommandOff(t *testing.T) {
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
	var logs testkit.LogRecorder
	e := newEnv(t, st, hub, func(o *Options) { o.Logger = logs.Logger() })
	c := e.login()
	c.ok("SELECT INBOX")
	c.ok("LOGOUT")
	if r := logs.Records("imap: slow command"); len(r) != 0 {
		t.Errorf("slow command records with SlowCommand 0: %v", r)
	}
}
