package main

import (
	"bufio"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// setNoFile lowers the soft RLIMIT_NOFILE of process pid to n (prlimit(2);
// lowering needs no privilege) and returns the limit it had.
func setNoFile(t *testing.T, pid int, n uint64) syscall.Rlimit {
	t.Helper()
	var old syscall.Rlimit
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE,
		0, uintptr(unsafe.Pointer(&old)), 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
	lim := syscall.Rlimit{Cur: n, Max: old.Max}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_NOFILE,
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
	return old
}

// TestServeSurvivesEMFILE runs quire serve with its file descriptors
// nearly used up, connects more IMAP clients than it can accept (accept
// fails with EMFILE), lets them go, and checks that the server is still
// up and greets a new client.
func TestServeSurvivesEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	s := startProtoServer(t, "")
	pid := s.cmd.Process.Pid
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatalf("counting the server's descriptors: %v", err)
	}
	const spare = 16
	setNoFile(t, pid, uint64(len(fds)+spare))
	var conns []net.Conn
	for range 4 * spare {
		c, err := net.Dial("tcp", s.imap) // completes in the kernel's backlog
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		conns = append(conns, c)
	}
	// The server accepts what its limit allows and then meets EMFILE.
	time.Sleep(500 * time.Millisecond)
	greeted := 0
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if l, _ := bufio.NewReader(c).ReadString('\n'); strings.HasPrefix(l, "* OK ") {
			greeted++
		}
	}
	if greeted >= len(conns) {
		t.Fatalf("all %d connections were greeted: the limit did not bite", greeted)
	}
	for _, c := range conns {
		c.Close()
	}
	c, err := net.Dial("tcp", s.imap)
	if err != nil {
		t.Fatalf("after EMFILE: dial: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if l, err := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(l, "* OK ") {
		t.Fatalf("after EMFILE: got %q, %v; want a greeting", l, err)
	}
	if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the server is gone: %v", err)
	}
}
