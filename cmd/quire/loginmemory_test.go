package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWrongPasswordBurstMemory: 500 concurrent wrong-password LOGINs, 50
// from each of ten client addresses (under imap.max_connections_per_ip),
// against a real server. Each argon2id check allocates 64 MiB; the peak RSS
// (VmHWM) may grow by login.hash_memory plus 100 MB, no more. Before the
// budget every check ran at once and the process grew by gigabytes; the
// watcher kills the server as soon as the bound is crossed, so the machine
// never runs out of memory when this fails.
func TestWrongPasswordBurstMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server, 500 logins")
	}
	const (
		budgetMiB = 256
		slackMB   = 100
		clients   = 500
		addrs     = 10
	)
	bound := int64(budgetMiB<<20 + slackMB*1000*1000)
	dir := t.TempDir()
	bin := buildQuire(t)
	lmtp, imap := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf("[log]\nlevel = \"error\"\n[store]\ndbtype = \"embedded\"\ndatadir = %q\n[lmtp]\nlisten = [%q]\n[http]\nlisten = [%q]\n"+
		"[imap]\nlisten = [%q]\nallow_plaintext = true\n[pop3]\nlisten = []\n[login]\nhash_memory = \"%dMiB\"\nhash_wait = \"5s\"\nmax_delay = \"2s\"\n",
		filepath.Join(dir, "data"), lmtp, freePort(t), imap, budgetMiB)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, bin, cfg, lmtp)
	if out, err := exec.Command(bin, "user", "add", "victim@example.org", "--password", "right", "--config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	pid := srv.Process.Pid
	before := procStatus(t, pid, "VmRSS")

	// The watcher: stop the server the moment it crosses the bound.
	stop := make(chan struct{})
	var watched sync.WaitGroup
	var crossed atomic.Int64
	watched.Add(1)
	go func() {
		defer watched.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if rss, ok := readStatus(pid, "VmRSS"); ok && rss-before > bound {
				crossed.Store(rss - before)
				_ = srv.Process.Kill()
				return
			}
		}
	}()

	var wg sync.WaitGroup
	answers := make(chan string, clients)
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers <- loginStatus(fmt.Sprintf("127.0.1.%d", 1+i%addrs), imap, "victim@example.org", "wrong")
		}()
	}
	wg.Wait()
	close(stop)
	watched.Wait()
	close(answers)
	elapsed := time.Since(start)

	if g := crossed.Load(); g > 0 {
		t.Fatalf("RSS grew by %d MB during the burst, over the bound of %d MB (login.hash_memory %d MiB + %d MB); server stopped",
			g/1e6, bound/1e6, budgetMiB, slackMB)
	}
	peak := procStatus(t, pid, "VmHWM")
	counts := map[string]int{}
	for a := range answers {
		counts[a]++
	}
	t.Logf("%d logins in %v: RSS %d MB before, peak %d MB (+%d MB); answers %v",
		clients, elapsed.Round(time.Millisecond), before/1e6, peak/1e6, (peak-before)/1e6, counts)
	if peak-before > bound {
		t.Fatalf("peak RSS grew by %d MB, over login.hash_memory %d MiB + %d MB", (peak-before)/1e6, budgetMiB, slackMB)
	}
	failed, busy := counts["NO [AUTHENTICATIONFAILED]"], counts["NO [UNAVAILABLE]"]
	if failed+busy != clients || failed == 0 {
		t.Fatalf("answers %v: want every login refused, as AUTHENTICATIONFAILED (some) or UNAVAILABLE", counts)
	}
}

// loginStatus sends one LOGIN from local address src and returns the
// tagged answer's status and code ("NO [UNAVAILABLE]", "OK [CAPABILITY"),
// or what went wrong.
func loginStatus(src, addr, user, pw string) string {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(45 * time.Second))
	br := bufio.NewReader(nc)
	if _, err := br.ReadString('\n'); err != nil {
		return "greeting: " + err.Error()
	}
	if _, err := fmt.Fprintf(nc, "a LOGIN %s %s\r\n", user, pw); err != nil {
		return "write: " + err.Error()
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return "read: " + err.Error()
		}
		if rest, ok := strings.CutPrefix(l, "a "); ok {
			if i := strings.Index(rest, " "); i > 0 && strings.HasPrefix(rest[i+1:], "[") {
				return rest[:i] + " " + strings.Fields(rest[i+1:])[0]
			}
			return strings.TrimSpace(rest)
		}
	}
}

// procStatus returns a /proc/PID/status memory field in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	v, ok := readStatus(pid, field)
	if !ok {
		t.Fatalf("no %s in /proc/%d/status", field, pid)
	}
	return v
}

func readStatus(pid int, field string) (int64, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				return n * 1024, err == nil
			}
		}
	}
	return 0, false
}
