package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// server is one running LMTP target.
type server struct {
	lmtpAddr string
	httpAddr string // quire's http.listen, for -pprof; empty for Dovecot
	note     string // shown under the table
}

// cleanups are run in reverse order when the program exits.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }
func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

const benchPassword = "bench"

// script runs one of the repository's scripts, its output going to stderr.
// It uses its own context so cleanups still run after Ctrl-C.
func script(root string, env []string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", args[0]), args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C is ours to handle
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scripts/%s: %w", strings.Join(args, " "), err)
	}
	return nil
}

// startDovecot starts the private Dovecot of scripts/dovecot.sh with fresh
// maildirs, or uses the one already running.
func startDovecot(root string, port, users int, cl *cleanups) (*server, error) {
	env := []string{fmt.Sprintf("DOVECOT_LMTP_PORT=%d", port), fmt.Sprintf("DOVECOT_USERS=%d", users),
		"DOVECOT_PASSWORD=" + benchPassword}
	s := &server{lmtpAddr: fmt.Sprintf("127.0.0.1:%d", port)}
	if script(root, env, "dovecot.sh", "status") == nil {
		s.note = "Dovecot was already running; its maildirs were not reset"
		return s, nil
	}
	if err := script(root, env, "dovecot.sh", "clean"); err != nil {
		return nil, err
	}
	cl.add(func() { _ = script(root, env, "dovecot.sh", "stop") })
	return s, script(root, env, "dovecot.sh", "start")
}

// cassandraAddr returns the node to use: $QUIRE_BENCH_CASSANDRA, the one
// scripts/cassandra.sh reports running, or one it starts (and later stops).
func cassandraAddr(root string, cl *cleanups) (string, error) {
	if a := os.Getenv("QUIRE_BENCH_CASSANDRA"); a != "" {
		return a, nil
	}
	if _, err := os.Stat(filepath.Join(root, "scripts", "cassandra.sh")); err != nil {
		return "", fmt.Errorf("no QUIRE_BENCH_CASSANDRA and no scripts/cassandra.sh")
	}
	port := os.Getenv("CASSANDRA_PORT")
	if port == "" {
		port = "9042"
	}
	addr := "127.0.0.1:" + port
	if script(root, nil, "cassandra.sh", "status") == nil {
		return addr, nil
	}
	cl.add(func() { _ = script(root, nil, "cassandra.sh", "stop") })
	return addr, script(root, nil, "cassandra.sh", "start")
}

// Keyspaces of the Cassandra target; bench-specific so that the bench never
// touches the tests' data.
var benchKeyspaces = [3]string{"quirebench_meta", "quirebench_mbox", "quirebench_cache"}

// dropKeyspaces gives the Cassandra target a fresh start.
func dropKeyspaces(addr string) error {
	c := gocql.NewCluster(addr)
	c.Timeout, c.ConnectTimeout = 60*time.Second, 20*time.Second
	s, err := c.CreateSession()
	if err != nil {
		return fmt.Errorf("cassandra %s: %w", addr, err)
	}
	defer s.Close()
	for _, ks := range benchKeyspaces {
		if err := s.Query("DROP KEYSPACE IF EXISTS " + ks).Exec(); err != nil {
			return fmt.Errorf("drop keyspace %s: %w", ks, err)
		}
	}
	return nil
}

const quireConfig = `# Written by bench/lmtp.
[store]
dbtype = %q
datadir = %q
%s
[lmtp]
listen = [%q]

[imap]
listen = []

[pop3]
listen = []

[http]
listen = [%q]
`

// startQuire writes a config into dir, creates the bench users and starts
// "quire serve". dbtype is "embedded" or "cassandra" (then casAddr is used).
func startQuire(ctx context.Context, bin, dbtype, casAddr string, users int, dir string, cl *cleanups) (*server, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s not found: run make build", bin)
	}
	s := &server{lmtpAddr: freeAddr(), httpAddr: freeAddr()}
	cas := ""
	if dbtype == "cassandra" {
		cas = fmt.Sprintf("casconnectpoints = [%q]\ncasmetakeyspace = %q\ncasmsgkeyspace = %q\ncascachekeyspace = %q\n"+
			"casreplicationstrategy = \"SimpleStrategy\"\ncasmetarf = 1\ncasmsgrf = 1\ncascacherf = 1\n",
			casAddr, benchKeyspaces[0], benchKeyspaces[1], benchKeyspaces[2])
		if err := dropKeyspaces(casAddr); err != nil {
			return nil, err
		}
	}
	conf := filepath.Join(dir, "quire.toml")
	body := fmt.Sprintf(quireConfig, dbtype, filepath.Join(dir, "data"), cas, s.lmtpAddr, s.httpAddr)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	if err := quireCmd(ctx, bin, "", "config", "check", "--config", conf); err != nil {
		return nil, err
	}
	if dbtype == "cassandra" {
		if err := quireCmd(ctx, bin, "", "init", "--config", conf); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= users; i++ {
		addr := fmt.Sprintf("user%d@bench.test", i)
		if err := quireCmd(ctx, bin, benchPassword+"\n", "user", "add", addr, "--password-stdin", "--config", conf); err != nil {
			return nil, err
		}
	}
	logPath := filepath.Join(dir, "serve.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", conf)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C is ours to handle
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited); logf.Close() }()
	cl.add(func() { stopProcess(cmd, exited) })
	if err := waitPort(ctx, s.lmtpAddr, 120*time.Second, exited); err != nil {
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("quire serve: %w; its output:\n%s", err, tail(log, 4000))
	}
	return s, nil
}

// quireCmd runs one admin command of the quire binary.
func quireCmd(ctx context.Context, bin, stdin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		logf("quire %s failed; its output:\n%s", strings.Join(args, " "), tail(out, 4000))
		return fmt.Errorf("quire %s: %w: %s", args[0], err, lastLine(out))
	}
	return nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// stopProcess sends SIGTERM, then SIGKILL after 15 s.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		fmt.Fprintf(os.Stderr, "lmtp bench: pid %d ignored SIGTERM for 15 s, killing it\n", cmd.Process.Pid)
		_ = cmd.Process.Kill()
		<-exited
	}
}

// waitPort waits until addr accepts TCP connections.
func waitPort(ctx context.Context, addr string, limit time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited before %s accepted connections", addr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not accept connections within %v", addr, limit)
}

// freeAddr returns a 127.0.0.1 address with a port that was free just now.
func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// profileCPU fetches a 20 s CPU profile from quire's pprof endpoint into
// path. It returns a message for the report; a missing endpoint is not an
// error.
func profileCPU(ctx context.Context, httpAddr, path string) string {
	base := "http://" + httpAddr + "/debug/pprof/"
	client := &http.Client{Timeout: 40 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"profile?seconds=20", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "pprof: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("pprof: %s answered %s; no profile taken", base, resp.Status)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		return "pprof: " + err.Error()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "pprof: " + err.Error()
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "pprof: " + err.Error()
	}
	return "CPU profile (20 s): " + path
}
