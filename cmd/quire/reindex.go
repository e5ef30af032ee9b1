package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/quiremail/quire/internal/store"
)

// progressLine is one line of reindex progress, as the HTTP endpoint
// streams it (NDJSON) and the command reads it.
type progressLine struct {
	User  string `json:"user,omitempty"`
	Done  int64  `json:"done"`
	Total int64  `json:"total"`
	Users int    `json:"users,omitempty"` // users finished
	End   bool   `json:"end,omitempty"`
	Error string `json:"error,omitempty"`
}

// reindex rebuilds the full-text index of one user or of all users
// (`quire reindex [ADDRESS]`), with a progress bar. On the embedded store
// held by a running server, the server does it (POST /admin/reindex);
// otherwise this process does.
func (c *cli) reindex(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("reindex", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("reindex: expected at most one ADDRESS (none: every user)")
	}
	address := ""
	if len(pos) == 1 {
		address = pos[0]
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if cfg.SearchEngine() == "none" {
		return errors.New(`reindex: there is no full-text index to rebuild: search.engine is "none" (set search.url, or search.engine)`)
	}
	bar := newProgressBar(c.stdout)
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, srv, err := openOrServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	if srv != nil {
		return c.reindexRemote(ctx, srv, address, bar)
	}
	defer b.Close()
	st := store.New(b, storeOptions(cfg, log))
	ss, err := openSearch(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	defer ss.close()
	return runReindex(ctx, st, ss, address, bar.show)
}

// runReindex reindexes one user (address) or all, calling show after
// each batch.
func runReindex(ctx context.Context, st *store.Store, ss *searchStack, address string, show func(progressLine)) error {
	var users []store.User
	if address != "" {
		u, err := st.User(ctx, address)
		if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
		users = append(users, u)
	} else if err := st.ListUsers(ctx, func(u store.User) error { users = append(users, u); return nil }); err != nil {
		return fmt.Errorf("reindex: list users: %w", err)
	}
	for i, u := range users {
		err := ss.svc.Reindex(ctx, u, func(done, total int64) {
			show(progressLine{User: u.Address, Done: done, Total: total, Users: i})
		})
		if err != nil {
			return fmt.Errorf("reindex: %w", err)
		}
	}
	show(progressLine{Users: len(users), End: true})
	return nil
}

// reindexHandler serves POST /admin/reindex {"address": ...}: progress as
// NDJSON lines, the last with "end" or "error". httpHandler puts it behind
// the admin token.
func reindexHandler(ss *searchStack, st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ss.svc == nil {
			http.Error(w, `{"error":"no full-text index: search.engine is \"none\""}`, http.StatusNotFound)
			return
		}
		var req struct {
			Address string `json:"address"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			http.Error(w, `{"error":"malformed request"}`, http.StatusBadRequest)
			return
		}
		line := ndjsonLines(w)
		show := func(p progressLine) { line(p, p.End || p.Done == p.Total) }
		if err := runReindex(r.Context(), st, ss, req.Address, show); err != nil {
			line(progressLine{Error: err.Error()}, true)
		}
	})
}

// reindexRemote asks the running server to reindex and shows its
// progress.
func (c *cli) reindexRemote(ctx context.Context, srv *adminServer, address string, bar *progressBar) error {
	resp, err := srv.post(ctx, "reindex", "/admin/reindex", map[string]string{"address": address})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p progressLine
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return fmt.Errorf("reindex: unexpected answer %q", sc.Text())
		}
		if p.Error != "" {
			bar.finish()
			return errors.New(p.Error)
		}
		bar.show(p)
		if p.End {
			return nil
		}
	}
	return fmt.Errorf("reindex: the server stopped answering before the end: %v", sc.Err())
}

// progressBar draws reindex progress on one line.
type progressBar struct {
	w     io.Writer
	drawn bool
}

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w} }

func (b *progressBar) show(p progressLine) {
	if p.End {
		b.finish()
		fmt.Fprintf(b.w, "quire: reindexed %d user(s)\n", p.Users)
		return
	}
	const width = 30
	filled := width
	if p.Total > 0 {
		filled = int(p.Done * width / p.Total)
	}
	fmt.Fprintf(b.w, "\r[%s%s] %d/%d messages  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), p.Done, p.Total, p.User)
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
