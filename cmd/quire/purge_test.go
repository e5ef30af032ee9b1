package main

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/storetest"
)

// bodyFiles lists the body files of an embedded data directory.
func bodyFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(dataDir, "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// bigBody is a message of about 300 KB: kept in a body file.
func bigBody() string {
	var b strings.Builder
	b.WriteString("Subject: big\r\n\r\n")
	for i := 0; b.Len() < 300<<10; i++ {
		fmt.Fprintf(&b, "line %d of a message large enough for a body file of its own\r\n", i)
	}
	return b.String()
}

// servePurge starts a server over a fresh embedded store with the given
// [store.purge] keys, delivers a 300 KB message to a new user, deletes
// the user (the body is now unreferenced) and returns the config, the
// data directory and a function running quire commands.
func servePurge(t *testing.T, purgeKeys string) (dataDir, httpAddr string, cli func(args ...string) string) {
	t.Helper()
	bin := buildQuire(t)
	dir := t.TempDir()
	dataDir = filepath.Join(dir, "data")
	lmtpAddr, httpAddr := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\npurge = %s\n"+
		"[search]\nengine = \"none\"\n[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\nmetrics_public = true\n[imap]\nlisten = []\n[pop3]\nlisten = []\n",
		dataDir, purgeKeys, lmtpAddr, httpAddr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startServer(t, bin, cfg, lmtpAddr)
	cli = func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--config", cfg)...).CombinedOutput()
		if err != nil {
			t.Fatalf("quire %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	cli("user", "add", "gone@example.org", "--password", "pw")
	if ok, err := deliver(lmtpSession(t, lmtpAddr), "gone@example.org", bigBody()); !ok || err != nil {
		t.Fatalf("delivery: %v %v", ok, err)
	}
	if n := len(bodyFiles(t, dataDir)); n != 1 {
		t.Fatalf("%d body files after one delivery, want 1", n)
	}
	cli("user", "del", "gone@example.org")
	return dataDir, httpAddr, cli
}

// TestPurgeCommandWhileServing: quire purge works while the server holds
// the embedded store (it asks the server): the first pass finds the
// deleted user's body unreferenced, a dry run after the grace counts it
// and frees nothing, and the next pass frees it and says so; the
// server's metrics count the passes and what they freed.
func TestPurgeCommandWhileServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	dataDir, httpAddr, cli := servePurge(t, `{enable = false, grace = "0s"}`)
	out := cli("purge")
	if !strings.Contains(out, "purge: freed 0 bodies") || !strings.Contains(out, "found unreferenced now: 1;") ||
		!strings.Contains(out, "change-log entries older than the history dropped: 0, in 0 mailboxes (whole log buckets: 0)") ||
		!strings.Contains(out, "rows of messages expunged below the change log's floor dropped: 0") ||
		!strings.Contains(out, "stray mailboxes (rows no mailbox record reaches) found: 0") ||
		!strings.Contains(out, "orphans of writes that never landed: 0 body chunks, 0 body files (0 bytes), 0 spilled metadata") {
		t.Fatalf("first pass:\n%s", out)
	}
	out = cli("purge", "--dry-run")
	if !strings.Contains(out, "purge: would free 1 bodies") || len(bodyFiles(t, dataDir)) != 1 {
		t.Fatalf("dry run (%d body files left):\n%s", len(bodyFiles(t, dataDir)), out)
	}
	out = cli("purge")
	if !strings.Contains(out, "purge: freed 1 bodies") || len(bodyFiles(t, dataDir)) != 0 {
		t.Fatalf("second pass (%d body files left):\n%s", len(bodyFiles(t, dataDir)), out)
	}
	all := scrape(t, httpAddr)
	got := map[string]float64{}
	for k, v := range all {
		if strings.HasPrefix(k, "quire_store_purge_") && k != "quire_store_purge_seconds_total{}" && k != "quire_store_purge_freed_bytes_total{}" &&
			k != "quire_store_purge_last_success_timestamp_seconds{}" {
			got[k] = v
		}
	}
	want := map[string]float64{
		`quire_store_purge_passes_total{result="ok"}`:    3, // the dry run too
		`quire_store_purge_passes_total{result="error"}`: 0,
		"quire_store_purge_freed_bodies_total{}":         1,
		"quire_store_purge_deleted_mailboxes_total{}":    0,
		"quire_store_purge_log_entries_total{}":          0, // the history (720h by default) has not passed
		"quire_store_purge_expunged_rows_total{}":        0,
		"quire_store_purge_stray_mailboxes_total{}":      0,
		"quire_store_purge_orphans_total{}":              0,
	}
	if !maps.Equal(got, want) || all["quire_store_purge_freed_bytes_total{}"] <= 0 || // compressed: the body is repetitive text
		all["quire_store_purge_last_success_timestamp_seconds{}"] < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("purge metrics %v (bytes %v, last success %v), want %v", got, all["quire_store_purge_freed_bytes_total{}"],
			all["quire_store_purge_last_success_timestamp_seconds{}"], want)
	}
}

// TestPurgeInBackground is the reproduction: with store.purge
// enabled and a 1 s grace, a deleted user's 300 KB body file is gone
// within 20 s, without any command.
func TestPurgeInBackground(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	dataDir, _, _ := servePurge(t, `{enable = true, grace = "1s"}`)
	deadline := time.Now().Add(20 * time.Second)
	for len(bodyFiles(t, dataDir)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the body file is still there 20 s after its user was deleted: %v", bodyFiles(t, dataDir))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestPurgeDryRunCountsLogTrim: `quire purge --dry-run` reports the
// change-log entries, log buckets and expunged rows the log trim would
// drop, and the real pass after it drops exactly those. The store is
// prepared directly: 30 messages in INBOX, two runs of them expunged,
// and a trim mark back-dated two hours, past the one-hour history.
func TestPurgeDryRunCountsLogTrim(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"warn\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\n"+
		"purge = {enable = false, grace = \"1h\", log_history = \"1h\"}\n[search]\nengine = \"none\"\n"+
		"[lmtp]\nlisten = []\n[http]\nlisten = []\n[imap]\nlisten = []\n[pop3]\nlisten = []\n", filepath.Join(dir, "data"))
	if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openBackend(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(b, store.Options{})
	u, err := s.CreateUser(ctx, "trim@example.org", "$test$")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := s.Mailbox(ctx, u, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var uids []mail.UID
	for i := range 30 {
		got, err := s.Append(ctx, u, inbox, storetest.Put(t, ctx, s, fmt.Sprintf("Subject: m%d\r\n\r\nbody %d\r\n", i, i)))
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, got...)
	}
	for _, run := range [][]mail.UID{uids[3:7], uids[12:14]} {
		if _, err := s.StoreFlags(ctx, inbox, run, store.FlagsAdd, mail.NewFlags(mail.FlagDeleted), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Expunge(ctx, inbox, run); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.Status(ctx, inbox)
	if err != nil {
		t.Fatal(err)
	}
	mark := store.LogMark{ModSeq: h.ModSeq, At: time.Now().Add(-2 * time.Hour)}
	if _, err := b.(store.LogTrimmer).TrimLog(ctx, inbox.ID, store.TrimRequest{Next: mark}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	counts := regexp.MustCompile(`history (?:dropped|would be dropped): (\d+), in (\d+) mailboxes \(whole log buckets: (\d+)\)\n` +
		`  rows of messages expunged below the change log's floor (?:dropped|would be dropped): (\d+)\n`)
	purge := func(args ...string) []string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(ctx, append([]string{"purge", "--config", cfgPath}, args...), strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("quire purge %v: %v\n%s%s", args, err, out.String(), errOut.String())
		}
		m := counts.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("quire purge %v printed no log trim counts:\n%s", args, out.String())
		}
		return m[1:]
	}
	dry := purge("--dry-run")
	real := purge()
	// Every entry up to the mark: 30 appends, 6 flag changes, 6 expunges.
	want := []string{"42", "1", "0", "6"}
	if !slices.Equal(dry, want) || !slices.Equal(real, want) {
		t.Fatalf("dry run counted %v (entries, mailboxes, buckets, expunged rows), the pass dropped %v; want %v for both", dry, real, want)
	}
	if again := purge("--dry-run"); !slices.Equal(again, []string{"0", "0", "0", "0"}) {
		t.Fatalf("a dry run after the trim counts %v; want nothing left to drop", again)
	}
}
