package notify

import (
	"bufio"
	"bytes"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/testkit"
)

// host is one access host of a test deployment: its own loopback address,
// hub and mesh.
type host struct {
	name string
	addr string
	hub  *Hub
	mesh *Mesh
	ln   net.Listener
	logs *testkit.SyncBuffer
}

// listen reserves a port on each of the loopback addresses given.
func listen(t *testing.T, names ...string) map[string]net.Listener {
	out := map[string]net.Listener{}
	for _, n := range names {
		ln, err := net.Listen("tcp", n+":0")
		if err != nil {
			t.Fatalf("listen on %s: %v", n, err)
		}
		out[n] = ln
	}
	return out
}

// deployment starts a mesh on each listener with the given group lists
// (entries are the listeners' host names; ports are filled in).
func deployment(t *testing.T, lns map[string]net.Listener, groups map[string][]string, secret string) map[string]*host {
	full := map[string][]string{}
	for g, names := range groups {
		for _, n := range names {
			full[g] = append(full[g], lns[n].Addr().String())
		}
	}
	hosts := map[string]*host{}
	for n, ln := range lns {
		hosts[n] = startHost(t, n, ln, full, secret)
	}
	return hosts
}

func startHost(t *testing.T, name string, ln net.Listener, groups map[string][]string, secret string) *host {
	h := &host{name: name, addr: ln.Addr().String(), hub: NewHub(), ln: ln, logs: &testkit.SyncBuffer{}}
	m, err := NewMesh(MeshOptions{Self: name, Groups: groups, Secret: []byte(secret), Hub: h.hub,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.mesh = m
	go m.Serve(ln)
	t.Cleanup(m.Close)
	return h
}

func woken(s *Sub, within time.Duration) bool {
	select {
	case <-s.C:
		return true
	case <-time.After(within):
		return false
	}
}

const secret = "a shared secret of the deployment"

// TestMeshRoutesByGroup: a change on one host reaches the other hosts of
// the user's group within a second, and no host of another group.
func TestMeshRoutesByGroup(t *testing.T) {
	lns := listen(t, "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
	hosts := deployment(t, lns, map[string][]string{
		"east": {"127.0.0.2", "127.0.0.3", "127.0.0.4"},
		"west": {"127.0.0.5"},
	}, secret)
	a, b, c, w := hosts["127.0.0.2"], hosts["127.0.0.3"], hosts["127.0.0.4"], hosts["127.0.0.5"]
	subs := map[*host]*Sub{}
	for _, h := range []*host{a, b, c, w} {
		subs[h] = h.hub.Subscribe("u1")
		defer subs[h].Close()
	}
	for _, mailHost := range []string{"east", "127.0.0.3", ""} {
		t0 := time.Now()
		a.mesh.Publish(mail.Event{UserID: "u1", MailboxID: "m1", ModSeq: 7, MailHost: mailHost})
		for _, h := range []*host{a, b, c} {
			if !woken(subs[h], time.Second) {
				t.Fatalf("mailHost %q: host %s not told within 1 s", mailHost, h.name)
			}
		}
		t.Logf("mailHost %q: all of east told in %v", mailHost, time.Since(t0))
	}
	if woken(subs[w], 300*time.Millisecond) {
		t.Fatal("a host of another group was told")
	}
	if _, _, recv, _ := w.mesh.Stats(); recv != 0 {
		t.Fatalf("west received %d events", recv)
	}
	// A west user's change made on an east host goes to west only.
	sw := b.hub.Subscribe("u2")
	defer sw.Close()
	sw2 := w.hub.Subscribe("u2")
	defer sw2.Close()
	a.mesh.Publish(mail.Event{UserID: "u2", MailboxID: "m2", ModSeq: 1, MailHost: "west"})
	if !woken(sw2, time.Second) {
		t.Fatal("west not told of its user's change")
	}
	if woken(sw, 300*time.Millisecond) {
		t.Fatal("an east peer was told of a west user's change")
	}
}

// TestMeshRefusesWrongSecret: a host with another secret cannot inject
// events, and the refusal is counted and logged.
func TestMeshRefusesWrongSecret(t *testing.T) {
	lns := listen(t, "127.0.0.2", "127.0.0.3")
	groups := map[string][]string{"g": {lns["127.0.0.2"].Addr().String(), lns["127.0.0.3"].Addr().String()}}
	good := startHost(t, "127.0.0.2", lns["127.0.0.2"], groups, secret)
	bad := startHost(t, "127.0.0.3", lns["127.0.0.3"], groups, "another secret, 16+ chars")
	sub := good.hub.Subscribe("u1")
	defer sub.Close()
	bad.mesh.Publish(mail.Event{UserID: "u1", MailboxID: "m", ModSeq: 1})
	if woken(sub, 500*time.Millisecond) {
		t.Fatal("an event from a host with the wrong secret was accepted")
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, _, rej := good.mesh.Stats(); rej > 0 && strings.Contains(bad.logs.String(), "notify.secret") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _, _, rej := good.mesh.Stats()
	t.Fatalf("rejections %d; the dialer's log:\n%s", rej, bad.logs.String())
}

// TestMeshReportsDisagreeingLists: hosts whose group lists differ (not just
// in order) log an error naming the problem; order alone does not.
func TestMeshReportsDisagreeingLists(t *testing.T) {
	lns := listen(t, "127.0.0.2", "127.0.0.3")
	a, b := lns["127.0.0.2"].Addr().String(), lns["127.0.0.3"].Addr().String()
	h1 := startHost(t, "127.0.0.2", lns["127.0.0.2"], map[string][]string{"g": {a, b}}, secret)
	h2 := startHost(t, "127.0.0.3", lns["127.0.0.3"], map[string][]string{"g": {b, a}, "extra": {"127.0.0.9"}}, secret)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(h1.logs.String(), "different store affinity groups") &&
			strings.Contains(h2.logs.String(), "different store affinity groups") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, h := range []*host{h1, h2} {
		if !strings.Contains(h.logs.String(), "store.storehostlist") {
			t.Fatalf("%s did not report the disagreement:\n%s", h.name, h.logs.String())
		}
	}
	if groupsHash(map[string][]string{"g": {a, b}}) != groupsHash(map[string][]string{"g": {strings.ToUpper(b), a}}) {
		t.Fatal("order or case changed the lists' hash")
	}
}

// TestMeshPeerDown: publishing never blocks on a peer that is down (its
// queue drops), Peers reports it down, and once it comes up events flow
// and Peers reports it up.
func TestMeshPeerDown(t *testing.T) {
	lns := listen(t, "127.0.0.2", "127.0.0.3")
	addrB := lns["127.0.0.3"].Addr().String()
	// B is down: its port takes connections and drops them at once.
	lnB := lns["127.0.0.3"].(*net.TCPListener)
	downDone := make(chan struct{})
	go func() {
		defer close(downDone)
		for {
			c, err := lnB.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	groups := map[string][]string{"g": {lns["127.0.0.2"].Addr().String(), addrB}}
	a := startHost(t, "127.0.0.2", lns["127.0.0.2"], groups, secret)
	t0 := time.Now()
	for i := range 10000 {
		a.mesh.Publish(mail.Event{UserID: "u1", MailboxID: "m", ModSeq: mail.ModSeq(i)})
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("10,000 publishes with a peer down took %v", d)
	}
	if _, dropped, _, _ := a.mesh.Stats(); dropped[addrB] == 0 {
		t.Fatal("a full queue for a down peer dropped nothing")
	}
	if p := a.mesh.Peers(); len(p) != 1 || p[0].Addr != addrB || p[0].Up || p[0].Dropped == 0 {
		t.Fatalf("Peers with B down: %+v, want B down with drops", p)
	}
	// B comes up on the same port.
	_ = lnB.SetDeadline(time.Now())
	<-downDone
	_ = lnB.SetDeadline(time.Time{})
	b := startHost(t, "127.0.0.3", lnB, groups, secret)
	sub := b.hub.Subscribe("u1")
	defer sub.Close()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		a.mesh.Publish(mail.Event{UserID: "u1", MailboxID: "m", ModSeq: 1})
		if woken(sub, 200*time.Millisecond) {
			// The sender counts a batch once its write returned, which
			// may be after B was woken.
			var p []PeerState
			for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
				if p = a.mesh.Peers(); len(p) == 1 && p[0].Addr == addrB && p[0].Up && p[0].Sent > 0 {
					return
				}
			}
			t.Fatalf("Peers once events flow: %+v, want B up with events sent", p)
		}
	}
	t.Fatalf("events did not flow after the peer came up; log:\n%s", a.logs.String())
}

func TestParseEvent(t *testing.T) {
	ev, ok := parseEvent("E u m 42 east")
	if !ok || ev != (mail.Event{UserID: "u", MailboxID: "m", ModSeq: 42, MailHost: "east"}) {
		t.Fatalf("%v %v", ev, ok)
	}
	for _, bad := range []string{"", "E u m x east", "E u m 1", "X u m 1 -", "E u m -1 -"} {
		if _, ok := parseEvent(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseEvent: any line parses or is refused without panic, and what
// parses writes back to the same event.
func FuzzParseEvent(f *testing.F) {
	f.Add("E u m 42 east")
	f.Add("E u m 0 -")
	f.Add("P")
	f.Fuzz(func(t *testing.T, line string) {
		ev, ok := parseEvent(line)
		if !ok {
			return
		}
		var b bytes.Buffer
		bw := bufio.NewWriter(&b)
		writeEvent(bw, ev)
		bw.Flush()
		again, ok := parseEvent(strings.TrimSuffix(b.String(), "\n"))
		if !ok || again != ev {
			t.Fatalf("%q → %+v → %q → %+v", line, ev, b.String(), again)
		}
	})
}
