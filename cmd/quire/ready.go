package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
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

// userFinder is what the probe needs of the store.
type userFinder interface {
	User(ctx context.Context, address string) (store.User, error)
}

// probeAddress is looked up to see that the store answers: a reserved
// domain (RFC 2606 section 2), so no user has it.
const probeAddress = "readyz@quire.invalid"

// handler answers 200 "ready" when r is ready and the store answers a
// lookup within probeTimeout, and 503 with the reason otherwise.
func (r *readiness) handler(st userFinder) http.Handler {
	const probeTimeout = 2 * time.Second
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch r.state.Load() {
		case starting:
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		case stopping:
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), probeTimeout)
		defer cancel()
		if _, err := st.User(ctx, probeAddress); err != nil && !errors.Is(err, mail.ErrNoSuchUser) {
			http.Error(w, fmt.Sprintf("store: %v", err), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}

// lockWait bounds how long serve waits for an embedded data directory that
// another process holds: an admin command run as the server starts holds
// it for well under a second; another server holds it for good, and
// serve then fails after lockWait.
const lockWait = 10 * time.Second

// openServeBackend is openBackend for serve: it waits up to lockWait
// while the embedded data directory is in use.
func openServeBackend(ctx context.Context, cfg Config, log *slog.Logger) (store.Backend, error) {
	deadline := time.Now().Add(lockWait)
	for logged := false; ; logged = true {
		b, err := openBackend(ctx, cfg, log)
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
