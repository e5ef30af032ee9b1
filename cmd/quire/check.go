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
	"os"

	"github.com/quiremail/quire/internal/store"
)

// errFound is check's error when it found something wrong: the command
// exits 1 after printing the findings.
var errFound = errors.New("check: found problems (see above)")

// checkRequest is the body of POST /admin/check.
type checkRequest struct {
	Address string `json:"address,omitempty"`
	Repair  bool   `json:"repair,omitempty"`
	Bodies  bool   `json:"bodies,omitempty"`
}

// checkLine is one line of POST /admin/check's NDJSON answer: progress, a
// finding, the summary (End) or an error.
type checkLine struct {
	User           string             `json:"user,omitempty"`
	Done           int                `json:"done,omitempty"`
	Total          int                `json:"total,omitempty"`
	Finding        *store.Finding     `json:"finding,omitempty"`
	Summary        *store.CheckReport `json:"summary,omitempty"`
	Users          int                `json:"users,omitempty"`
	IndexUnchecked bool               `json:"index_unchecked,omitempty"`
	// VocabularySwept: a repair swept the embedded index's vocabulary,
	// which removed VocabularyRemoved words no document holds.
	VocabularySwept   bool   `json:"vocabulary_swept,omitempty"`
	VocabularyRemoved int    `json:"vocabulary_removed,omitempty"`
	End               bool   `json:"end,omitempty"`
	Error             string `json:"error,omitempty"`
}

// runCheck checks the users of q (every user when q.Address is empty),
// calling show with progress and findings, and last with the summary.
// ss may be nil (no full-text index): the index is then not checked.
func runCheck(ctx context.Context, st *store.Store, ss *searchStack, q checkRequest, show func(checkLine)) error {
	var users []store.User
	if q.Address != "" {
		u, err := st.User(ctx, q.Address)
		if err != nil {
			return fmt.Errorf("check: %w", err)
		}
		users = append(users, u)
	} else if err := st.ListUsers(ctx, func(u store.User) error { users = append(users, u); return nil }); err != nil {
		return fmt.Errorf("check: list users: %w", err)
	}
	var sum store.CheckReport
	opt := store.CheckOptions{Repair: q.Repair, Bodies: q.Bodies}
	if ss != nil && ss.svc != nil && ss.svc.CanCheck() {
		opt.Index = ss.svc.Check
	}
	for _, u := range users {
		opt.Progress = func(done, total int) { show(checkLine{User: u.Address, Done: done, Total: total}) }
		rep, err := st.Check(ctx, u, opt)
		for i := range rep.Findings {
			show(checkLine{Finding: &rep.Findings[i]})
		}
		if err != nil {
			return err
		}
		sum.Mailboxes += rep.Mailboxes
		sum.Messages += rep.Messages
		sum.Bodies += rep.Bodies
		sum.Repaired += rep.Repaired
		sum.Skipped += rep.Skipped
		sum.Findings = append(sum.Findings, rep.Findings...)
	}
	end := checkLine{End: true, Summary: &sum, Users: len(users), IndexUnchecked: opt.Index == nil}
	if q.Repair && opt.Index != nil {
		// The repair deleted stale documents; their words, and those of
		// every document deleted since the last sweep, go too.
		n, ok, err := ss.svc.SweepVocabulary(ctx, "quire check --repair")
		if err != nil {
			return fmt.Errorf("check: sweeping the search vocabulary: %w", err)
		}
		end.VocabularySwept, end.VocabularyRemoved = ok, n
	}
	show(end)
	return nil
}

// checkHandler serves POST /admin/check: runCheck on this server's store
// and index, streamed as NDJSON checkLines.
func checkHandler(ss *searchStack, st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q checkRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&q); err != nil {
			http.Error(w, `{"error":"malformed request"}`, http.StatusBadRequest)
			return
		}
		line := ndjsonLines(w)
		show := func(l checkLine) { line(l, l.Finding != nil || l.End || l.Done == l.Total) }
		if ss != nil && ss.svc == nil {
			ss = nil
		}
		if err := runCheck(r.Context(), st, ss, q, show); err != nil {
			line(checkLine{Error: err.Error()}, true)
		}
	})
}

// check is `quire check [ADDRESS] [--repair] [--bodies]`.
func (c *cli) check(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	repair := fs.Bool("repair", false, "fix what is derived: heads, change log, quota usage, index documents, the index's vocabulary")
	bodies := fs.Bool("bodies", false, "read every referenced body and check its SHA-256 (slow: reads all the mail)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return errors.New("check: expected at most one ADDRESS (none: every user)")
	}
	q := checkRequest{Repair: *repair, Bodies: *bodies}
	if len(pos) == 1 {
		q.Address = pos[0]
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	p := &checkPrinter{w: c.stdout, tty: isTerminal(c.stdout)}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, srv, err := openOrServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	if srv != nil {
		err = c.checkRemote(ctx, srv, q, p.show)
	} else {
		defer b.Close()
		st := store.New(b, storeOptions(cfg, log))
		var ss *searchStack
		if cfg.SearchEngine() != "none" {
			if ss, err = openSearch(ctx, cfg, st, log); err != nil {
				return err
			}
			defer ss.close()
		}
		err = runCheck(ctx, st, ss, q, p.show)
	}
	p.clear()
	if err != nil {
		return err
	}
	if p.wrong > 0 {
		return errFound
	}
	return nil
}

// checkRemote asks the running server for the check.
func (c *cli) checkRemote(ctx context.Context, srv *adminServer, q checkRequest, show func(checkLine)) error {
	resp, err := srv.post(ctx, "check", "/admin/check", q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var l checkLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("check: unexpected answer %q", sc.Text())
		}
		if l.Error != "" {
			return errors.New(l.Error)
		}
		show(l)
		if l.End {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("check: reading the server's answer: %w", err)
	}
	return errors.New("check: the server's answer ended before the summary (see its log)")
}

// checkPrinter prints a check: one line per finding, a progress line on a
// terminal (redrawn in place), and the summary.
type checkPrinter struct {
	w     io.Writer
	tty   bool
	drawn bool
	wrong int // findings not repaired
}

func (p *checkPrinter) show(l checkLine) {
	switch {
	case l.Finding != nil:
		p.clear()
		fmt.Fprintln(p.w, l.Finding.String())
		if !l.Finding.Repaired {
			p.wrong++
		}
	case l.End:
		p.clear()
		s := l.Summary
		fmt.Fprintf(p.w, "check: %d user(s), %d mailboxes, %d messages, %d bodies: %d finding(s), %d repaired",
			l.Users, s.Mailboxes, s.Messages, s.Bodies, len(s.Findings), s.Repaired)
		if s.Skipped > 0 {
			fmt.Fprintf(p.w, ", %d mailbox(es) too busy to check", s.Skipped)
		}
		fmt.Fprintln(p.w)
		if l.IndexUnchecked {
			fmt.Fprintln(p.w, "check: the search index was not checked (search.engine is \"none\")")
		}
		if l.VocabularySwept {
			fmt.Fprintf(p.w, "check: the search vocabulary was swept: %d word(s) that no document holds removed\n", l.VocabularyRemoved)
		}
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[Kchecking %s: %d/%d mailboxes", l.User, l.Done, l.Total)
		p.drawn = true
	}
}

// clear ends the progress line, if one is drawn.
func (p *checkPrinter) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
