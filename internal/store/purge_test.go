package store

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// slowCommits is a backend whose commits conflict, each after a quarter
// of an hour, until the fourth; it counts claims. Only what Append uses is
// implemented.
type slowCommits struct {
	Backend
	now     time.Time
	commits int
	claims  [][]BlobID
}

func (b *slowCommits) MaxChangesPerCommit() int                       { return 64 }
func (b *slowCommits) Head(context.Context, string) (Head, error)     { return EmptyHead(), nil }
func (b *slowCommits) MarkUnindexed(context.Context, Unindexed) error { return nil }
func (b *slowCommits) ClaimBlobs(_ context.Context, ids []BlobID) error {
	b.claims = append(b.claims, ids)
	return nil
}
func (b *slowCommits) MarkUnreferenced(context.Context, BlobID, time.Time) error { return nil }
func (b *slowCommits) ClearUnreferenced(context.Context, BlobID) error           { return nil }
func (b *slowCommits) CondemnBlob(context.Context, BlobState) (bool, error)      { return false, nil }
func (b *slowCommits) DeleteBlob(context.Context, BlobState, func(string) error) error {
	return nil
}
func (b *slowCommits) PurgeLeftovers(context.Context) (int64, int64, error) { return 0, 0, nil }
func (b *slowCommits) PurgeBlobs(context.Context, func(BlobID) bool, func(BlobState) error) error {
	return nil
}

func (b *slowCommits) Commit(context.Context, string, Head, Head, []Change) error {
	b.now = b.now.Add(15 * time.Minute)
	if b.commits++; b.commits < 4 {
		return mail.ErrConflict
	}
	return nil
}

// TestReclaimAfterHalfTheGrace: an append whose commit is retried for
// longer than half the purge's grace claims its bodies again before the
// next attempt, so the purge's assumption (a claim commits within the
// grace) holds however long the retries take.
func TestReclaimAfterHalfTheGrace(t *testing.T) {
	b := &slowCommits{now: time.Unix(1e9, 0)}
	s := New(b, Options{Now: func() time.Time { return b.now }, PurgeGrace: time.Hour})
	id := BlobID(strings.Repeat("ab", 32))
	u := User{ID: "u"}
	if _, err := s.Append(context.Background(), u, Mailbox{ID: "m", UserID: "u"}, NewMessage{Blob: id, Size: 1}); err != nil {
		t.Fatal(err)
	}
	// Attempts at 0, 15, 30 and 45 minutes: the claim of minute 0 is
	// older than 30 minutes only at the fourth.
	if len(b.claims) != 1 || len(b.claims[0]) != 1 || b.claims[0][0] != id || b.commits != 4 {
		t.Fatalf("claims %v over %d commits, want one claim of %s before the fourth", b.claims, b.commits, id)
	}
}

// leasedPurges is a backend whose purge lease is granted or not, and
// that counts the passes that reach its bodies.
type leasedPurges struct {
	slowCommits
	granted bool
	passes  atomic.Int64
}

func (b *leasedPurges) LeasePurge(context.Context, string, time.Duration) (bool, error) {
	return b.granted, nil
}

func (b *leasedPurges) ListUsers(context.Context, func(User) error) error { return nil }

func (b *leasedPurges) PurgeBlobs(context.Context, func(BlobID) bool, func(BlobState) error) error {
	b.passes.Add(1)
	return nil
}

// TestRunPurgeNeedsTheLease: on a backend with a purge lease, the
// background purge runs passes only while it holds the lease.
func TestRunPurgeNeedsTheLease(t *testing.T) {
	for _, granted := range []bool{false, true} {
		b := &leasedPurges{granted: granted}
		s := New(b, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		s.RunPurge(ctx, 10*time.Millisecond, PurgeOptions{})
		cancel()
		if n := b.passes.Load(); (n > 0) != granted {
			t.Fatalf("lease granted %v: %d passes", granted, n)
		}
	}
}
