package benchkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Cleanups are run in reverse order of registration.
type Cleanups []func()

// Add registers f.
func (c *Cleanups) Add(f func()) { *c = append(*c, f) }

// Run runs every registered function, the last registered first.
func (c *Cleanups) Run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// Logger prints progress to stderr, each line prefixed with the
// benchmark's name.
type Logger string

// Printf prints one line.
func (l Logger) Printf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, string(l)+": "+format+"\n", args...)
}

// RepoRoot finds the directory holding Quire's go.mod, from the working
// directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/quiremail/quire\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run inside the quire repository")
		}
		dir = parent
	}
}

// Script runs one of the repository's scripts, its output going to stderr.
// It uses its own context so cleanups still run after Ctrl-C.
func Script(root string, env []string, args ...string) error {
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

// stopProcess sends SIGTERM, then SIGKILL after 15 s.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	select {
	case <-exited:
		return // killed, or crashed, before
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		fmt.Fprintf(os.Stderr, "benchkit: pid %d ignored SIGTERM for 15 s, killing it\n", cmd.Process.Pid)
		_ = cmd.Process.Kill()
		<-exited
	}
}

// WaitPort waits until addr accepts TCP connections, giving up after limit,
// when exited is closed or when ctx ends.
func WaitPort(ctx context.Context, addr string, limit time.Duration, exited <-chan struct{}) error {
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

// FreeAddr returns a 127.0.0.1 address with a port that was free just now.
func FreeAddr() (string, error) { return FreeAddrOn("127.0.0.1") }

// FreeAddrOn returns an address on ip with a port that was free just now.
func FreeAddrOn(ip string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return "", fmt.Errorf("no free port on %s: %w", ip, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Tail returns the last n bytes of b.
func Tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// FirstLine returns s up to its first newline.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// RSS returns the resident set size of process pid in bytes, from
// /proc/PID/status.
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			var kb int64
			if _, err := fmt.Sscan(f[1], &kb); err != nil {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q: %w", pid, f[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmRSS", pid)
}

// PSS returns the proportional set size of process pid in bytes (its
// private pages plus its share of pages shared with other processes), from
// /proc/PID/smaps_rollup.
func PSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			var kb int64
			if _, err := fmt.Sscan(f[1], &kb); err != nil {
				return 0, fmt.Errorf("/proc/%d/smaps_rollup: Pss %q: %w", pid, f[1], err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/smaps_rollup has no Pss", pid)
}

// ProcessTree returns root and all its descendants, from /proc/*/stat.
func ProcessTree(root int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces; the
		// parent PID is the second field after it.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		var ppid int
		if len(f) >= 2 {
			if _, err := fmt.Sscan(f[1], &ppid); err == nil {
				children[ppid] = append(children[ppid], pid)
			}
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// BuildQuire builds ./cmd/quire of the repository into the test's
// temporary directory and returns the binary's path: the tests of the
// load programs run the code they sit beside, not a bin/quire left from
// an earlier build.
func BuildQuire(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "quire")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/quire")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/quire: %v\n%s", err, out)
	}
	return bin
}
