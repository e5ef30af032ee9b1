package sdnotify

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends state changes to the service manager.
type Notifier struct {
	addr string // $NOTIFY_SOCKET as given; "" turns every call into a no-op
}

// New returns a Notifier for socket, the value of $NOTIFY_SOCKET ("": a
// Notifier that does nothing).
func New(socket string) *Notifier { return &Notifier{addr: socket} }

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n.addr != "" }

// Ready says the service is up (READY=1), or that a reload is done.
func (n *Notifier) Ready(status string) error { return n.Send("READY=1", status) }

// Reloading says a reload begins (RELOADING=1 with MONOTONIC_USEC, as
// Type=notify-reload asks); Ready must follow once it is done.
func (n *Notifier) Reloading(status string) error {
	return n.Send("RELOADING=1", "MONOTONIC_USEC="+strconv.FormatInt(monotonicUsec(), 10), status)
}

// Stopping says the service is shutting down (STOPPING=1).
func (n *Notifier) Stopping(status string) error { return n.Send("STOPPING=1", status) }

// Send writes the assignments as one datagram. A status that is not
// already an assignment becomes STATUS=, which systemctl status shows;
// empty ones are left out. Newlines inside a status would split the
// assignment, so they become spaces.
func (n *Notifier) Send(assignments ...string) error {
	if n.addr == "" {
		return nil
	}
	var b strings.Builder
	for _, a := range assignments {
		if a == "" {
			continue
		}
		if !strings.Contains(a, "=") {
			a = "STATUS=" + a
		}
		b.WriteString(strings.ReplaceAll(a, "\n", " "))
		b.WriteByte('\n')
	}
	name := n.addr
	if name[0] == '@' {
		name = "\x00" + name[1:] // Linux abstract namespace
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sdnotify: connect to NOTIFY_SOCKET %s: %w", n.addr, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("sdnotify: write to NOTIFY_SOCKET %s: %w", n.addr, err)
	}
	return nil
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd
// compares MONOTONIC_USEC with (Go's monotonic readings have another
// origin, so they cannot be used).
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Now().UnixMicro() // not reached on Linux
	}
	return ts.Sec*1e6 + ts.Nsec/1e3
}
