package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/cassandra"
	"github.com/quiremail/quire/internal/store/embedded"
)

// readiness is what GET /readyz answers. It starts as starting; serve
// calls Ready once every listener is open, and Stopping when shutdown
// begins, after which it is never ready again. The admin commands wait for
// it before they use a running server's admin API, so "start the server,
// then add a user" works however soon the second step comes.
type readiness struct{ state atomic.Int32 }

const (
	starting int32 = iota
	ready
	stopping
)

// Ready marks the server ready, unless it is already stopping.
func (r *readiness) Ready() { r.state.CompareAndSwap(starting, ready) }

// Stopping marks the server as shutting down: /readyz answers 503 from
// now on, so load balancers stop sending new connections.
func (r *readiness) Stopping() { r.state.Store(stopping) }

// probeAddress is looked up to see that the store answers: a reserved
// domain (RFC 2606 section 2), so no user has it.
const probeAddress = "readyz@quire.invalid"

// probeTimeout bounds each check of one GET /readyz; they run at once.
const probeTimeout = 2 * time.Second

// A readyCheck is one dependency /readyz asks about. It returns "ok",
// "degraded" (the host serves, with less: it stays ready) or an error
// (the host cannot serve: 503), and a detail for the operator.
type readyCheck struct {
	name string
	run  func(ctx context.Context) (degraded string, err error)
}

// checkResult is one check in the JSON body of /readyz.
type checkResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`           // ok, degraded, failed
	Detail string `json:"detail,omitempty"` // why degraded or failed
}

// readyBody is the JSON body of /readyz.
type readyBody struct {
	Status string        `json:"status"` // starting, ready, unready, stopping
	Checks []checkResult `json:"checks,omitempty"`
}

// handler answers 200 {"status":"ready"} when r is ready and no check
// failed, and 503 otherwise; the body names each check and its result.
// The checks run at once, each within probeTimeout, and only once r is
// ready.
func (r *readiness) handler(checks []readyCheck) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.state.Load() {
		case starting:
			writeReady(w, readyBody{Status: "starting"})
			return
		case stopping:
			writeReady(w, readyBody{Status: "stopping"})
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), probeTimeout)
		defer cancel()
		body := readyBody{Status: "ready", Checks: make([]checkResult, len(checks))}
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() {
				res := checkResult{Name: c.name, Status: "ok"}
				degraded, err := c.run(ctx)
				switch {
				case err != nil:
					res.Status, res.Detail = "failed", err.Error()
				case degraded != "":
					res.Status, res.Detail = "degraded", degraded
				}
				body.Checks[i] = res
			})
		}
		wg.Wait()
		for _, c := range body.Checks {
			if c.Status == "failed" {
				body.Status = "unready"
			}
		}
		writeReady(w, body)
	})
}

func writeReady(w http.ResponseWriter, b readyBody) {
	w.Header().Set("Content-Type", "application/json")
	if b.Status != "ready" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(b)
}

// storeCheck looks a reserved address up: the store answers a read. On
// Cassandra, a query class running on its fallback consistency is
// reported as degraded.
func storeCheck(st *store.Store) readyCheck {
	return readyCheck{name: "store", run: func(ctx context.Context) (string, error) {
		if _, err := st.User(ctx, probeAddress); err != nil && !errors.Is(err, mail.ErrNoSuchUser) {
			return "", err
		}
		if b, ok := st.Backend().(interface{ Degraded() map[string]bool }); ok {
			var on []string
			for class, d := range b.Degraded() {
				if d {
					on = append(on, class)
				}
			}
			if len(on) > 0 {
				slices.Sort(on)
				return "on the fallback consistency: " + strings.Join(on, ", "), nil
			}
		}
		return "", nil
	}}
}

// searchCheck asks the search index for a reserved mailbox's mark: the
// index answers (OpenSearch: a request to the cluster).
func searchCheck(idx search.Index) readyCheck {
	return readyCheck{name: "search", run: func(ctx context.Context) (string, error) {
		_, err := idx.Indexed(ctx, "readyz", "readyz")
		return "", err
	}}
}

// notifyCheck reports the links to the peers of this host's store
// affinity group. A peer that is down degrades the host, never makes it
// unready: this host still serves its users correctly (sessions see
// other hosts' changes at the next imap.recheck instead of at once), and
// one dead peer must not take its whole group out of the load balancer.
func notifyCheck(mesh *notify.Mesh) readyCheck {
	return readyCheck{name: "notify", run: func(context.Context) (string, error) {
		var down []string
		for _, p := range mesh.Peers() {
			if !p.Up {
				down = append(down, p.Addr)
			}
		}
		if len(down) > 0 {
			return "peers not linked (changes reach them late): " + strings.Join(down, ", "), nil
		}
		return "", nil
	}}
}

// entryFinder is what the directory check needs of a directory.
type entryFinder interface {
	Lookup(ctx context.Context, address string) (directory.Entry, error)
}

// directoryCheck looks the reserved address up in an external directory
// (LDAP): without it no one logs in and no delivery finds its recipient,
// so, like the store, it fails the check.
func directoryCheck(d entryFinder) readyCheck {
	return readyCheck{name: "directory", run: func(ctx context.Context) (string, error) {
		if _, err := d.Lookup(ctx, probeAddress); err != nil && !errors.Is(err, mail.ErrNoSuchUser) {
			return "", err
		}
		return "", nil
	}}
}

// readyChecks are serve's checks: the store, the external directory if
// one is configured (dir; nil for the store's own), the search index if
// one is configured, the notifier's peers on a host with a mesh.
func readyChecks(st *store.Store, dir entryFinder, ss *searchStack, mesh *notify.Mesh) []readyCheck {
	checks := []readyCheck{storeCheck(st)}
	if dir != nil {
		checks = append(checks, directoryCheck(dir))
	}
	if ss != nil && ss.idx != nil {
		checks = append(checks, searchCheck(ss.idx))
	}
	if mesh != nil {
		checks = append(checks, notifyCheck(mesh))
	}
	return checks
}

// lockWait bounds how long serve waits for an embedded data directory that
// another process holds: an admin command run as the server starts holds
// it for well under a second; another server holds it for good, and
// serve then fails after lockWait.
const lockWait = 10 * time.Second

// openServeBackend is openBackend for serve: it waits up to lockWait
// while the embedded data directory is in use.
func openServeBackend(ctx context.Context, cfg Config, log *slog.Logger, obs cassandra.Observer) (store.Backend, error) {
	deadline := time.Now().Add(lockWait)
	for logged := false; ; logged = true {
		b, err := openBackendObserved(ctx, cfg, log, obs)
		if !errors.Is(err, embedded.ErrLocked) || time.Now().After(deadline) {
			return b, err
		}
		if !logged {
			log.Warn("the data directory is in use (an admin command, or another server?): waiting for it", "dir", cfg.Store.DataDir, "up_to", lockWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
