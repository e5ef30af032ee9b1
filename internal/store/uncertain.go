package store

import (
	"context"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// UncertainLedger is implemented by a backend whose Commit can return with
// its outcome unknown: the Cassandra backend, when the reply to a commit's
// lightweight transaction is lost and reading it back at SERIAL fails too
// within the caller's deadline. Before such a Commit returns its error
// (mail.ErrUnavailable), it records each append in a durable ledger keyed
// by (mailbox, blob): a retried delivery of the same body to the same
// mailbox finds it, and Deliver settles it first, so a delivery's error
// means "not stored", or "stored exactly once and settled later", never
// "stored twice". The embedded backend commits locally, in one Pebble
// batch that is either written or not when Commit returns: it is never
// uncertain and does not implement this.
type UncertainLedger interface {
	// SettleDelivery settles the ledger's entries for blob in mailboxID,
	// before a delivery of that body commits. If an earlier commit of it
	// landed, it reports that copy (Landed, its UID and MODSEQ) and keeps
	// the entry, so that later retries find it too: the delivery is done.
	// Entries whose commit did not land are removed: the delivery commits
	// normally. An error (wrapping mail.ErrUnavailable) means an outcome
	// is still unknown: the delivery must not commit.
	SettleDelivery(ctx context.Context, mailboxID string, blob BlobID) (Settled, error)
	// SettleLedger settles, in the background, up to limit entries whose
	// outcome is still unknown, as SettleDelivery would, and reports how
	// many it settled and how many remain unknown.
	SettleLedger(ctx context.Context, limit int) (settled, unknown int, err error)
}

// Settled is the outcome of an uncertain commit of one append.
type Settled struct {
	Landed bool
	UID    mail.UID
	ModSeq mail.ModSeq
}

// Ledger settling in the background: how often, and at most how many
// entries a pass settles (each costs a SERIAL read).
const (
	ledgerEvery = time.Minute
	ledgerBatch = 1000
)

// RunLedger settles the backend's uncertain-writes ledger every minute
// until ctx ends (nothing to do on a backend without one). A delivery
// retried by its MTA settles its own entry at once (Deliver); this pass
// finds the rest, such as a delivery the MTA gave up on, and logs what
// each came to. The caller supervises it (cmd/quire: internal/supervise).
func (s *Store) RunLedger(ctx context.Context) {
	l, ok := s.b.(UncertainLedger)
	if !ok {
		return
	}
	t := time.NewTicker(ledgerEvery)
	defer t.Stop()
	for {
		settled, unknown, err := l.SettleLedger(ctx, ledgerBatch)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("store: settle the uncertain-writes ledger", "settled", settled, "unknown", unknown, "err", err)
		case settled > 0 || unknown > 0:
			s.log.Info("store: settled the uncertain-writes ledger", "settled", settled, "unknown", unknown)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// settleDelivery reports whether an earlier, uncertain commit of sp to mb
// landed (see UncertainLedger); the delivery is then done. An error means
// the delivery must not commit now.
func (s *Store) settleDelivery(ctx context.Context, mb Mailbox, sp *Spooled, u User) (bool, error) {
	l, ok := s.b.(UncertainLedger)
	if !ok {
		return false, nil
	}
	got, err := l.SettleDelivery(ctx, mb.ID, sp.ID)
	if err != nil || !got.Landed {
		return false, err
	}
	s.log.Info("delivery already stored by an earlier attempt whose outcome was unknown",
		"user", u.Address, "mailbox", mb.ID, "uid", got.UID, "blob", sp.ID)
	s.publish(mb, got.ModSeq)
	if s.index != nil {
		s.index.Added(ctx, mb, []MessageRow{{UID: got.UID}}, true)
	}
	return true, nil
}
