package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
)

// purgeOptions are the options of a purge pass by st, whose grace
// storeOptions set from store.purge.grace.
func purgeOptions(st *store.Store, dryRun bool) store.PurgeOptions {
	return store.PurgeOptions{Grace: st.PurgeGrace(), LogHistory: st.PurgeLogHistory(), DryRun: dryRun}
}

// startPurge runs the purge in the background when store.purge.enable is
// set: a pass every store.purge.interval (store.RunPurge), under a
// supervisor. The returned function stops it and waits.
func startPurge(ctx context.Context, cfg Config, st *store.Store, log *slog.Logger) (stop func()) {
	if !cfg.Store.Purge.Enable {
		return func() {}
	}
	every := cfg.Store.Purge.PurgeInterval()
	log.Info("purge: a pass every interval frees bodies unreferenced for the grace", "interval", every, "grace", cfg.Store.Purge.Grace.Duration())
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		supervise.New(supervise.Options{Logger: log}).Run(ctx, "purge unreferenced bodies", func(ctx context.Context) {
			st.RunPurge(ctx, every, purgeOptions(st, false))
		})
	}()
	return func() { cancel(); <-done }
}

// purgeReply is what POST /admin/purge answers.
type purgeReply struct {
	Stats store.PurgeStats `json:"stats"`
	Error string           `json:"error,omitempty"`
}

// purgeHandler serves POST /admin/purge {"dry_run": bool}: one purge pass
// run by this server, and its statistics. httpHandler puts it behind the
// admin token.
func purgeHandler(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			DryRun bool `json:"dry_run"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, `{"error":"malformed request"}`, http.StatusBadRequest)
			return
		}
		stats, err := st.Purge(r.Context(), purgeOptions(st, req.DryRun))
		rep := purgeReply{Stats: stats}
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			rep.Error = err.Error()
			w.WriteHeader(http.StatusConflict)
		}
		_ = json.NewEncoder(w).Encode(rep)
	})
}

// purge runs one purge pass (`quire purge [--dry-run]`) and prints what it
// freed. On the embedded store held by a running server, the server runs
// it (POST /admin/purge); otherwise this process does.
func (c *cli) purge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	dryRun := fs.Bool("dry-run", false, "count what the pass would free; change nothing")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errors.New("purge: takes no arguments, only --dry-run and --config")
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, srv, err := openOrServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	var stats store.PurgeStats
	if srv != nil {
		stats, err = purgeRemote(ctx, srv, *dryRun)
	} else {
		defer b.Close()
		st := store.New(b, storeOptions(cfg, log))
		stats, err = st.Purge(ctx, purgeOptions(st, *dryRun))
	}
	printPurge(c.stdout, stats, cfg.Store.Purge.Grace.Duration())
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	return nil
}

// purgeRemote asks the running server for a purge pass.
func purgeRemote(ctx context.Context, srv *adminServer, dryRun bool) (store.PurgeStats, error) {
	body, _ := json.Marshal(map[string]bool{"dry_run": dryRun})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+"/admin/purge", bytes.NewReader(body))
	if err != nil {
		return store.PurgeStats{}, err
	}
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return store.PurgeStats{}, fmt.Errorf("cannot reach the server at %s: %w", srv.base, err)
	}
	defer resp.Body.Close()
	var rep purgeReply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rep); err != nil {
		return store.PurgeStats{}, fmt.Errorf("the server answered %s", resp.Status)
	}
	if rep.Error != "" {
		return rep.Stats, errors.New(rep.Error)
	}
	return rep.Stats, nil
}

// printPurge writes a pass's statistics.
func printPurge(w io.Writer, st store.PurgeStats, grace time.Duration) {
	verb := "freed"
	if st.DryRun {
		verb = "would free"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "purge: %s %d bodies (%d bytes) in %v\n", verb, st.Freed, st.FreedBytes, st.Duration.Round(time.Millisecond))
	fmt.Fprintf(&b, "  bodies stored: %d, referenced: %d\n", st.Bodies, st.Referenced)
	fmt.Fprintf(&b, "  found unreferenced now: %d; unreferenced for less than the grace (%v): %d\n", st.Marked, grace, st.Waiting)
	fmt.Fprintf(&b, "  condemned but referenced again meanwhile: %d\n", st.Reclaimed)
	fmt.Fprintf(&b, "  leftovers of interrupted deletions removed: %d (%d bytes)\n", st.Leftovers, st.LeftoverBytes)
	fmt.Fprintf(&b, "  scanned: %d messages in %d mailboxes\n", st.Messages, st.Mailboxes)
	dropped := "dropped"
	if st.DryRun {
		dropped = "would be dropped"
	}
	fmt.Fprintf(&b, "  change-log entries older than the history %s: %d, in %d mailboxes (whole log buckets: %d)\n",
		dropped, st.LogEntries, st.LogMailboxes, st.LogBuckets)
	fmt.Fprintf(&b, "  rows of messages expunged below the change log's floor %s: %d\n", dropped, st.ExpungedRows)
	fmt.Fprintf(&b, "  stray mailboxes (rows no mailbox record reaches) found: %d\n", st.StrayMailboxes)
	fmt.Fprintf(&b, "  orphans of writes that never landed: %d body chunks, %d body files (%d bytes), %d spilled metadata\n",
		st.Orphans.Chunks, st.Orphans.Files, st.Orphans.Bytes, st.Orphans.Spills)
	_, _ = io.WriteString(w, b.String())
}
