// Package sdnotify speaks systemd's readiness protocol (sd_notify(3)): one
// datagram of newline-separated KEY=VALUE assignments written to the
// AF_UNIX SOCK_DGRAM socket named by $NOTIFY_SOCKET.
//
// A service of Type=notify sends READY=1 once it serves; before a reload
// it sends RELOADING=1 with MONOTONIC_USEC (the CLOCK_MONOTONIC time in
// microseconds, which systemd 253 and later require to match a reload to
// its READY=1), then READY=1 when the reload is done; STOPPING=1 when it
// begins to shut down. A socket path starting with '@' is in Linux's
// abstract namespace: the '@' stands for a leading NUL byte.
//
// Without $NOTIFY_SOCKET (not run by systemd) every call does nothing and
// returns nil. A Notifier holds no connection: each message dials, writes
// one datagram and closes, so it is safe for concurrent use and survives a
// restart of the service manager.
package sdnotify
