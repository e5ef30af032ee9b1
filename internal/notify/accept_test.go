package notify

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/netserve"
)

// outOfFiles fails its first n Accepts with EMFILE, as a process out of
// file descriptors does.
type outOfFiles struct {
	net.Listener
	n atomic.Int32
}

func (l *outOfFiles) Accept() (net.Conn, error) {
	if l.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestServeRidesOutEMFILE: given a netserve.Listener, as quire serve gives
// it, the mesh's accept loop waits out EMFILE and links peers after it.
func TestServeRidesOutEMFILE(t *testing.T) {
	lns := listen(t, "127.0.0.2", "127.0.0.3")
	groups := map[string][]string{"g": {lns["127.0.0.2"].Addr().String(), lns["127.0.0.3"].Addr().String()}}
	flaky := &outOfFiles{Listener: lns["127.0.0.3"]}
	flaky.n.Store(4)
	rl := netserve.NewListener(flaky, nil)
	a := startHost(t, "127.0.0.2", lns["127.0.0.2"], groups, secret)
	b := startHost(t, "127.0.0.3", rl, groups, secret)
	sub := b.hub.Subscribe("u1")
	defer sub.Close()
	a.mesh.Publish(mail.Event{UserID: "u1", MailboxID: "m1", ModSeq: 1, MailHost: "g"})
	if !woken(sub, 5*time.Second) {
		t.Fatal("the peer behind EMFILE was not told within 5 s")
	}
	if n := rl.Errors(); n != 4 {
		t.Errorf("%d accept errors retried, want 4", n)
	}
}
