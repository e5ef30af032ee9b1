package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// verify checks the quiet server after the load.
func verify(ctx context.Context, o options, srv *server, res *result) {
	if err := syscall.Kill(srv.t.PID, 0); err != nil {
		res.failFinal("the server process %d is gone: %v", srv.t.PID, err)
	}
	if err := caughtUp(ctx, srv, res); err != nil {
		res.failFinal("indexer: %v", err)
	}
	for i := 1; i <= o.users; i++ {
		if err := verifyUser(o, srv, res, benchkit.User(i)); err != nil {
			res.failFinal("final check of %s: %v", benchkit.User(i), err)
		}
	}
	checkLog(srv, res)
}

// caughtUp waits until the indexer has no mailbox queued (twice in a
// row, half a second apart), for at most a minute, and checks that no
// component recovered a panic (GET /server/statistics).
func caughtUp(ctx context.Context, srv *server, res *result) error {
	deadline := time.Now().Add(time.Minute)
	idle := 0
	var panics int64
	defer func() {
		if panics != 0 {
			res.failFinal("indexer statistics: %d panics recovered", panics)
		}
	}()
	for idle < 2 {
		var st struct {
			Queued int   `json:"queued"`
			Panics int64 `json:"panics"`
		}
		if err := getJSON(ctx, srv.t, "/indexer/statistics", &st); err != nil {
			return err
		}
		panics = st.Panics
		if st.Queued == 0 {
			idle++
		} else {
			idle = 0
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still %d mailboxes queued a minute after the load", st.Queued)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var ss struct {
		Panics map[string]int64 `json:"panics"`
	}
	if err := getJSON(ctx, srv.t, "/server/statistics", &ss); err != nil {
		return err
	}
	for _, c := range slices.Sorted(maps.Keys(ss.Panics)) {
		if ss.Panics[c] != 0 {
			res.failFinal("server statistics: %s recovered %d panics", c, ss.Panics[c])
		}
	}
	return nil
}

func getJSON(ctx context.Context, t *benchkit.Target, path string, v any) error {
	req, err := t.AdminRequest(ctx, "GET", path)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// verifyUser checks every mailbox of user: the server answers NOOP;
// STATUS agrees with FETCH 1:*; UIDs ascend below UIDNEXT; no token is
// stored twice; SEARCH BODY of each token finds its message only.
func verifyUser(o options, srv *server, res *result, user string) error {
	conn, err := benchkit.DialIMAP(srv.t.IMAP, timeout, 64<<10)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	for _, cmd := range []string{"LOGIN " + user + " " + benchkit.Password, "NOOP"} {
		if _, err := conn.Command(cmd, nil); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(cmd)[0], err)
		}
	}
	seen := map[string]string{} // token -> mailbox/uid
	for _, mbox := range mailboxes {
		res.checkedMailboxes++
		st, err := conn.Command("STATUS "+mbox+" (MESSAGES UIDNEXT)", nil)
		if err != nil {
			return fmt.Errorf("STATUS %s: %w", mbox, err)
		}
		messages, uidNext := statusItem(st, "MESSAGES"), statusItem(st, "UIDNEXT")
		if _, err := conn.Command("SELECT "+mbox, nil); err != nil {
			return fmt.Errorf("SELECT %s: %w", mbox, err)
		}
		fetched, err := conn.Command("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Stress-Token)])", nil)
		if err != nil {
			return fmt.Errorf("FETCH %s: %w", mbox, err)
		}
		uids, err := ascending(fetched)
		if err != nil {
			res.failFinal("%s %s: %v", user, mbox, err)
		}
		if int64(len(uids)) != messages {
			res.failFinal("%s %s: STATUS MESSAGES %d, FETCH 1:* %d messages", user, mbox, messages, len(uids))
		}
		if messages > 0 {
			plain, err := conn.Command("FETCH 1:* (UID)", nil)
			if err != nil {
				return fmt.Errorf("FETCH 1:* %s: %w", mbox, err)
			}
			if p, _ := ascending(plain); !slices.Equal(p, uids) {
				res.failFinal("%s %s: FETCH 1:* (UID) gave %d UIDs, UID FETCH 1:* %d, not the same", user, mbox, len(p), len(uids))
			}
		}
		for _, u := range uids {
			if int64(u) >= uidNext {
				res.failFinal("%s %s: UID %d not below UIDNEXT %d", user, mbox, u, uidNext)
			}
		}
		searched := 0
		for _, f := range fetched {
			_, uid, ok := parseFetch(f)
			if !ok {
				continue
			}
			tok := tokenOf(f)
			if tok == "" {
				res.failFinal("%s %s: a message without its token: %.120q", user, mbox, f)
				continue
			}
			if at, dup := seen[tok]; dup {
				res.failFinal("%s: token %s stored twice (%s and %s)", user, tok, at, mbox)
			}
			seen[tok] = mbox
			if searched++; searched > o.searchMax {
				continue
			}
			found, err := conn.Command("UID SEARCH BODY "+tok, nil)
			if err != nil {
				return fmt.Errorf("SEARCH %s: %w", mbox, err)
			}
			res.checkedMessages++
			if got, want := searchResult(found), strconv.FormatUint(uint64(uid), 10); got != want {
				res.failFinal("%s %s: UID SEARCH BODY %s found [%s], want [%s]", user, mbox, tok, got, want)
			}
		}
	}
	return nil
}

// statusItem returns the number after name in a STATUS response, -1 if
// absent.
func statusItem(untagged [][]byte, name string) int64 {
	for _, u := range untagged {
		f := strings.Fields(strings.NewReplacer("(", " ", ")", " ").Replace(string(u)))
		for i := 0; i+1 < len(f); i++ {
			if f[i] == name {
				if n, err := strconv.ParseInt(f[i+1], 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

// tokenOf finds the X-Stress-Token value in a FETCH response.
func tokenOf(f []byte) string {
	i := bytes.Index(f, []byte("X-Stress-Token: "))
	if i < 0 {
		return ""
	}
	rest := f[i+len("X-Stress-Token: "):]
	if j := bytes.IndexAny(rest, "\r\n"); j >= 0 {
		rest = rest[:j]
	}
	return string(bytes.TrimSpace(rest))
}

// searchResult is the UIDs of a SEARCH response, space-separated.
func searchResult(untagged [][]byte) string {
	for _, u := range untagged {
		if s, ok := bytes.CutPrefix(u, []byte("* SEARCH")); ok {
			return strings.Join(strings.Fields(string(s)), " ")
		}
	}
	return ""
}

// checkLog fails on any line of the server's output that mentions a
// panic, recovered or not.
func checkLog(srv *server, res *result) {
	b, err := os.ReadFile(srv.log)
	if err != nil {
		res.failFinal("server log: %v", err)
		return
	}
	n := 0
	for line := range strings.Lines(string(b)) {
		if !strings.Contains(strings.ToLower(line), "panic") {
			continue
		}
		if n++; n <= 5 {
			res.failFinal("server log: %.600s", strings.TrimSpace(line))
		}
	}
	if n > 5 {
		res.failFinal("server log: %d more lines mention a panic (%s)", n-5, srv.log)
	}
}
