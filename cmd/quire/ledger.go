package main

import (
	"context"
	"log/slog"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
)

// startLedger settles the store's uncertain-writes ledger in the
// background (store.RunLedger; a no-op on the embedded store, whose
// commits are never uncertain), under a supervisor: a panic is logged and
// the work restarted. The returned function stops it and waits.
func startLedger(ctx context.Context, st *store.Store, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		supervise.New(supervise.Options{Logger: log}).Run(ctx, "settle the uncertain-writes ledger", st.RunLedger)
	}()
	return func() { cancel(); <-done }
}
