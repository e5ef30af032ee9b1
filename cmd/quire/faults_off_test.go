//go:build !quirefaults

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// TestProductionKeepsUIDSafety opens the Cassandra backend as quire serve
// does, with QUIRE_TEST_BREAK_UID_ALLOCATION=1 in the environment: the
// production build has no fault switches, so UID allocation stays safe:
// two hosts that read the same head both commit UID 1, and the second
// conflicts instead of overwriting the first (in a quirefaults build,
// which bench/checker -break uses, it overwrites).
func TestProductionKeepsUIDSafety(t *testing.T) {
	addr := cassandraAddr(t)
	t.Setenv("QUIRE_TEST_BREAK_UID_ALLOCATION", "1")
	cfgPath, _ := casConfig(t, addr)
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	open := func() store.Backend {
		b, err := openBackend(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	b, other := open(), open()
	var r [16]byte
	_, _ = rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	mb := store.Mailbox{ID: id, UserID: id, Name: "INBOX", UIDValidity: 1, Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := b.CreateMailbox(ctx, mb); err != nil {
		t.Fatal(err)
	}
	prev, err := other.Head(ctx, mb.ID) // the other host caches it
	if err != nil || prev != store.EmptyHead() {
		t.Fatalf("head of a new mailbox: %+v %v", prev, err)
	}
	next := prev
	next.ModSeq, next.UIDNext, next.Messages, next.Unseen = prev.ModSeq+1, prev.UIDNext+1, 1, 1
	meta := store.MessageMeta{Blob: store.BlobID(id + id), Size: 10, EmailID: "M" + id[:12], Structure: []byte("x")}
	change := []store.Change{{ModSeq: next.ModSeq, UID: prev.UIDNext, Kind: store.ChangeAppend, Meta: &meta}}
	if err := b.Commit(ctx, mb.ID, prev, next, change); err != nil {
		t.Fatal(err)
	}
	if err := other.Commit(ctx, mb.ID, prev, next, change); !errors.Is(err, mail.ErrConflict) {
		t.Fatalf("second commit of UID %d on the same head: %v, want mail.ErrConflict (UIDs allocated without their LWT)", prev.UIDNext, err)
	}
}
