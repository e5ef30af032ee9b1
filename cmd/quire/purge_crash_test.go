package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// fillForPurge stores n messages of about 140 KB (each in a body file)
// for one user of the embedded store in dataDir and expunges all but
// keep of them.
func fillForPurge(t *testing.T, dataDir string, n, keep int) {
	t.Helper()
	ctx := context.Background()
	b, err := embedded.Open(dataDir, embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(ctx, "crash@example.org", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var gone []mail.UID
	for i := range n {
		var raw bytes.Buffer
		fmt.Fprintf(&raw, "Subject: %d\r\n\r\n", i)
		for raw.Len() < 140<<10 {
			fmt.Fprintf(&raw, "message %d, line %d\r\n", i, raw.Len())
		}
		sp, err := s.Spool(&raw, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutBody(ctx, sp); err != nil {
			t.Fatal(err)
		}
		uids, err := s.Append(ctx, u, in, store.NewMessage{Blob: sp.ID, Size: sp.Size, Structure: sp.Structure})
		sp.Close()
		if err != nil {
			t.Fatal(err)
		}
		if i >= keep {
			gone = append(gone, uids...)
		}
	}
	if _, err := s.Expunge(ctx, in, gone); err != nil {
		t.Fatal(err)
	}
}

// readEvery opens the embedded store in dataDir and reads every live
// message's body whole; it returns how many there are.
func readEvery(t *testing.T, dataDir string) int {
	t.Helper()
	ctx := context.Background()
	_, s, in, closeFn := embeddedInbox(t, dataDir, "crash@example.org")
	defer closeFn()
	n := 0
	err := s.Messages(ctx, in, 1, 0, func(r store.MessageRow) error {
		body, err := s.OpenBody(ctx, r.Meta)
		if err != nil {
			return fmt.Errorf("UID %d: %w", r.UID, err)
		}
		defer body.Close()
		got, err := io.ReadAll(io.NewSectionReader(body, 0, body.Size()))
		if err != nil || int64(len(got)) != r.Meta.Size {
			return fmt.Errorf("UID %d: read %d of %d bytes: %v", r.UID, len(got), r.Meta.Size, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("after the crash: %v", err)
	}
	return n
}

// TestPurgeKilled: quire purge killed (SIGKILL) while it deletes bodies
// leaves a store whose every message reads whole; the next run removes
// what the killed one left, so that exactly the live messages' body
// files remain.
func TestPurgeKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs quire")
	}
	const n, keep = 120, 10
	bin := buildQuire(t)
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	cfg, _, _ := writeServerConfig(t, dir, fmt.Sprintf("dbtype = \"embedded\"\ndatadir = %q\npurge = {grace = \"0s\"}\n", dataDir))
	fillForPurge(t, dataDir, n, keep)
	purge := func() string {
		t.Helper()
		out, err := exec.Command(bin, "purge", "--config", cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("quire purge: %v\n%s", err, out)
		}
		return string(out)
	}
	if out := purge(); !strings.Contains(out, fmt.Sprintf("found unreferenced now: %d;", n-keep)) {
		t.Fatalf("the first pass did not mark the %d expunged bodies:\n%s", n-keep, out)
	}
	// Kill the second pass as soon as it has removed a body file.
	cmd := exec.Command(bin, "purge", "--config", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for len(bodyFiles(t, dataDir)) == n {
		if time.Now().After(deadline) {
			t.Fatal("the purge removed no body file within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	left := len(bodyFiles(t, dataDir))
	if left <= keep {
		t.Fatalf("the purge finished (%d body files left) before it was killed: make it longer", left)
	}
	t.Logf("killed with %d of %d body files left", left, n)
	if got := readEvery(t, dataDir); got != keep {
		t.Fatalf("%d messages after the crash, want %d", got, keep)
	}
	purge()
	if got := len(bodyFiles(t, dataDir)); got != keep {
		t.Fatalf("%d body files after the next pass, want the %d of the live messages", got, keep)
	}
	if got := readEvery(t, dataDir); got != keep {
		t.Fatalf("%d messages after the next pass, want %d", got, keep)
	}
}
