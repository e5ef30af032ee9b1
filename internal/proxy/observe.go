package proxy

import (
	"context"
	"net"
	"strconv"
	"sync"
	"time"
)

// Observer is told what the proxy does, for the metrics (package
// metrics implements it; the proxy does not import it). Calls come from
// every session at once. Label values come from fixed sets: protocols,
// the login results below, reply classes, and the groups and host:port
// addresses of store.storehostlist, so no client adds series. Every call
// is per session, login, connection to a host or recipient, never per
// command.
type Observer interface {
	// Login counts one IMAP or POP3 login attempt by its result:
	// "ok" (the access host accepted it), "failed" (refused at the
	// proxy: unknown user or, with proxy.login = "service_admin", a
	// wrong password), "refused" (the access host refused it),
	// "unavailable" (no host, the directory, an unroutable user, busy
	// password checks).
	Login(protocol, result string)
	// Routed counts a session carried to host of group: an IMAP or POP3
	// login, or one group's LMTP transaction.
	Routed(protocol, group, host string)
	// Connect is one attempt to connect to host and read its greeting,
	// with its time; err is nil when the host answered.
	Connect(host string, took time.Duration, err error)
	// Skipped counts a host put last because it failed within
	// proxy.host_retry.
	Skipped(host string)
	// LMTPTransaction counts one group's transaction at its host by
	// outcome: "ok" (the exchange ran; its replies are the host's),
	// "no_host" or "broken" (the proxy answered 451 for the recipients).
	LMTPTransaction(result string)
	// LMTPRecipient counts one recipient's reply at the end of DATA by
	// its code (the class is its first digit).
	LMTPRecipient(code string)
}

// nopObserver is the Observer of a Router without one.
type nopObserver struct{}

func (nopObserver) Login(string, string)                 {}
func (nopObserver) Routed(string, string, string)        {}
func (nopObserver) Connect(string, time.Duration, error) {}
func (nopObserver) Skipped(string)                       {}
func (nopObserver) LMTPTransaction(string)               {}
func (nopObserver) LMTPRecipient(string)                 {}

// HostState is one host's answer to Probe.
type HostState struct {
	Addr string // host:port
	Up   bool
	Err  string // why not, when down
}

// Probe opens (and closes at once) a TCP connection to every host of
// every group on each of ports, all at once within ctx, and returns each
// group's hosts with whether they accepted on every port: what GET
// /readyz of the proxy reports. It does not change which hosts Connect
// skips.
func (r *Router) Probe(ctx context.Context, ports []int) map[string][]HostState {
	out := map[string][]HostState{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, g := range r.o.Groups.Names() {
		hosts := r.o.Groups.Hosts(g)
		states := make([]HostState, len(hosts))
		out[g] = states
		for i, h := range hosts {
			states[i] = HostState{Addr: h, Up: true}
			for _, p := range ports {
				addr := net.JoinHostPort(h, strconv.Itoa(p))
				wg.Go(func() {
					nc, err := r.dial.DialContext(ctx, "tcp", addr)
					if err == nil {
						nc.Close()
						return
					}
					mu.Lock()
					states[i].Up = false
					if states[i].Err == "" {
						states[i].Err = err.Error()
					}
					mu.Unlock()
				})
			}
		}
	}
	wg.Wait()
	return out
}
