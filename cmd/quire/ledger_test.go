package main

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/testkit"
)

// ledgerBackend is a backend with an uncertain-writes ledger whose
// background pass panics the first time.
type ledgerBackend struct {
	store.Backend
	passes atomic.Int64
	again  chan struct{} // closed by the second pass
}

func (l *ledgerBackend) SettleDelivery(context.Context, string, store.BlobID) (store.Settled, error) {
	return store.Settled{}, nil
}

func (l *ledgerBackend) SettleLedger(context.Context, int) (int, int, error) {
	switch l.passes.Add(1) {
	case 1:
		panic("ledger pass")
	case 2:
		close(l.again)
	}
	return 0, 0, nil
}

// TestLedgerSupervised: quire serve's ledger pass survives a panic (logged
// and restarted by the supervisor) and stops when asked.
func TestLedgerSupervised(t *testing.T) {
	var logs testkit.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	b := &ledgerBackend{again: make(chan struct{})}
	stop := startLedger(context.Background(), store.New(b, store.Options{Logger: log}), log)
	select {
	case <-b.again:
	case <-time.After(10 * time.Second):
		t.Fatalf("the pass was not restarted after its panic (%d passes); logs:\n%s", b.passes.Load(), logs.String())
	}
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop did not return")
	}
	if out := logs.String(); !strings.Contains(out, "internal error: recovered a panic in background work") ||
		!strings.Contains(out, "panic=\"panic: ledger pass\"") {
		t.Fatalf("the panic was not logged:\n%s", logs.String())
	}
}
