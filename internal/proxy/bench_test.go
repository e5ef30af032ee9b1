package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/testkit"
)

// stubHost is an access host that logs anyone in and answers every
// other command with one FETCH response carrying size bytes, and its
// tagged OK, in one write: the proxy's cost per command with nothing
// else in the way.
type stubHost struct {
	ln   net.Listener
	size int
	// afterLogin is sent right after the login's OK, in the same write.
	afterLogin string
}

func startStubHost(tb testing.TB, size int, afterLogin string) *stubHost {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := &stubHost{ln: ln, size: size, afterLogin: afterLogin}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go h.serve(nc)
		}
	}()
	tb.Cleanup(func() { ln.Close() })
	return h
}

func (h *stubHost) port() int { return h.ln.Addr().(*net.TCPAddr).Port }

func (h *stubHost) serve(nc net.Conn) {
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 4<<10)
	body := strings.Repeat("x", h.size)
	if _, err := io.WriteString(nc, "* OK stub ready\r\n"); err != nil {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		cmd, _, _ := strings.Cut(rest, " ")
		var reply string
		switch cmd {
		case "ID":
			reply = tag + " OK ID completed\r\n"
		case "AUTHENTICATE", "LOGIN":
			reply = tag + " OK Logged in\r\n" + h.afterLogin
		default:
			reply = fmt.Sprintf("* 1 FETCH (BODY[] {%d}\r\n%s)\r\n%s OK FETCH completed\r\n", h.size, body, tag)
		}
		if _, err := io.WriteString(nc, reply); err != nil {
			return
		}
	}
}

// replyLen is the length of the stub's reply to a command tagged tag.
func (h *stubHost) replyLen(tag string) int {
	return len(fmt.Sprintf("* 1 FETCH (BODY[] {%d}\r\n", h.size)) + h.size + len(")\r\n") + len(tag+" OK FETCH completed\r\n")
}

// everyone is a directory where every address is an active user of
// group g.
type everyone struct{}

func (everyone) Lookup(_ context.Context, a string) (directory.Entry, error) {
	return directory.Entry{Address: a, MailHost: "g", Status: directory.StatusActive}, nil
}

// startStubProxy runs an IMAP proxy routing everyone to h, and returns
// its plain address and, with tc set, its implicit-TLS one.
func startStubProxy(tb testing.TB, h *stubHost, tc *tls.Config) (plain, implicit string) {
	tb.Helper()
	router := NewRouter(RouterOptions{Groups: directory.NewGroups(map[string][]string{"g": {"127.0.0.1"}})})
	logins := &Logins{Router: router, Dir: everyone{}, Guard: login.NewGuard(login.GuardOptions{}), Unknown: &countingUnknowns{}}
	p := NewIMAP(IMAPOptions{Logins: logins, Port: h.port(), AllowPlaintext: true, TLS: tc})
	listen := func(serve func(net.Listener) error) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		go func() { _ = serve(ln) }()
		return ln.Addr().String()
	}
	plain = listen(p.Serve)
	if tc != nil {
		implicit = listen(p.ServeTLS)
	}
	tb.Cleanup(func() { p.Close() })
	return plain, implicit
}

// cpuNow is the process's user and system CPU time so far.
func cpuNow(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCarried runs commands over a logged-in session, directly
// against the stub host and through the proxy, with small and
// body-sized replies. cpu-ns/op is the whole process's CPU (client, stub
// host and, when proxied, the proxy) per command, from getrusage, so it
// holds on a busy machine where ns/op does not: the proxy's own cost per
// command is proxied's cpu-ns/op minus direct's (proxied-tls: the
// client's TLS too, so compare it only with itself across changes).
func BenchmarkCarried(b *testing.B) {
	for _, size := range []int{100, 16 << 10, 64 << 10} {
		h := startStubHost(b, size, "")
		proxied, proxiedTLS := startStubProxy(b, h, testkit.SelfSigned(b))
		for _, via := range []struct {
			name, addr string
			tls        bool
		}{{"direct", h.ln.Addr().String(), false}, {"proxied", proxied, false}, {"proxied-tls", proxiedTLS, true}} {
			b.Run(via.name+"/reply="+strconv.Itoa(size), func(b *testing.B) {
				var nc net.Conn
				var err error
				if via.tls {
					nc, err = tls.Dial("tcp", via.addr, &tls.Config{InsecureSkipVerify: true})
				} else {
					nc, err = net.Dial("tcp", via.addr)
				}
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				br := bufio.NewReaderSize(nc, 64<<10)
				if _, err := br.ReadString('\n'); err != nil { // greeting
					b.Fatal(err)
				}
				if _, err := io.WriteString(nc, "l LOGIN u@x.test pw\r\n"); err != nil {
					b.Fatal(err)
				}
				if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "l OK") {
					b.Fatalf("login: %q %v", l, err)
				}
				buf := make([]byte, h.replyLen("a"))
				b.SetBytes(int64(len(buf)))
				cpu0 := cpuNow(b)
				for b.Loop() {
					if _, err := io.WriteString(nc, "a FETCH 1 BODY[]\r\n"); err != nil {
						b.Fatal(err)
					}
					if _, err := io.ReadFull(br, buf); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuNow(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// BenchmarkProxyCPU is BenchmarkCarried with the client and the stub
// host in a child process (this test binary again, as
// TestBenchLoadProcess), so that cpu-ns/op, from getrusage of this
// process, is the proxy's own CPU per command and nothing else's.
// "session" is a whole session instead: connect, LOGIN (the proxy's
// lookup in a directory in memory, its connection and login to the
// host), close.
func BenchmarkProxyCPU(b *testing.B) {
	for _, size := range []int{0, 100, 16 << 10, 64 << 10} {
		for _, tlsClient := range []bool{false, true} {
			name := "plain"
			if tlsClient {
				name = "tls"
			}
			what := "/reply=" + strconv.Itoa(size)
			if size == 0 {
				what = "/session"
			}
			b.Run(name+what, func(b *testing.B) {
				cmd := exec.Command(os.Args[0], "-test.run=^TestBenchLoadProcess$")
				cmd.Env = append(os.Environ(), fmt.Sprintf("QUIRE_PROXY_BENCH=%d,%t", size, tlsClient))
				in, _ := cmd.StdinPipe()
				outp, _ := cmd.StdoutPipe()
				cmd.Stderr = os.Stderr
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				defer func() { _ = cmd.Wait() }()
				defer in.Close()
				out := bufio.NewReader(outp)
				var port int
				if _, err := fmt.Fscanf(out, "port %d\n", &port); err != nil {
					b.Fatal(err)
				}
				plain, implicit := startStubProxy(b, &stubHost{ln: portListener(port)}, testkit.SelfSigned(b))
				addr := plain
				if tlsClient {
					addr = implicit
				}
				if _, err := fmt.Fprintf(in, "%s %d\n", addr, b.N); err != nil {
					b.Fatal(err)
				}
				if l, err := out.ReadString('\n'); err != nil || l != "ready\n" {
					b.Fatalf("load process: %q %v", l, err)
				}
				cpu0 := cpuNow(b)
				b.ResetTimer()
				if _, err := io.WriteString(in, "go\n"); err != nil {
					b.Fatal(err)
				}
				if l, err := out.ReadString('\n'); err != nil || l != "done\n" {
					b.Fatalf("load process: %q %v", l, err)
				}
				b.StopTimer()
				b.ReportMetric(float64(cpuNow(b)-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// portListener stands for a listener on 127.0.0.1:port of another
// process: the proxy needs only its port.
type portListener int

func (portListener) Accept() (net.Conn, error) { return nil, net.ErrClosed }
func (portListener) Close() error              { return nil }
func (p portListener) Addr() net.Addr          { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(p)} }

// TestBenchLoadProcess is BenchmarkProxyCPU's child: a stub host and a
// client, run only under QUIRE_PROXY_BENCH=size,tls. It prints the
// host's port, reads the proxy's address and the command count, logs in,
// prints "ready", waits for "go", runs the commands and prints "done".
func TestBenchLoadProcess(t *testing.T) {
	spec := os.Getenv("QUIRE_PROXY_BENCH")
	if spec == "" {
		t.Skip("BenchmarkProxyCPU's load process")
	}
	var size int
	var tlsClient bool
	if _, err := fmt.Sscanf(strings.Replace(spec, ",", " ", 1), "%d %t", &size, &tlsClient); err != nil {
		t.Fatal(err)
	}
	h := startStubHost(t, size, "")
	fmt.Printf("port %d\n", h.port())
	in := bufio.NewReader(os.Stdin)
	var addr string
	var n int
	if _, err := fmt.Fscanf(in, "%s %d\n", &addr, &n); err != nil {
		t.Fatal(err)
	}
	login := func() (net.Conn, *bufio.Reader) {
		var nc net.Conn
		var err error
		if tlsClient {
			nc, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		} else {
			nc, err = net.Dial("tcp", addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReaderSize(nc, 64<<10)
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(nc, "l LOGIN u@x.test pw\r\n"); err != nil {
			t.Fatal(err)
		}
		if l, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(l, "l OK") {
			t.Fatalf("login: %q %v", l, err)
		}
		return nc, br
	}
	if size == 0 {
		fmt.Println("ready")
		if l, err := in.ReadString('\n'); err != nil || l != "go\n" {
			t.Fatalf("%q %v", l, err)
		}
		for range n {
			nc, _ := login()
			nc.Close()
		}
		fmt.Println("done")
		return
	}
	nc, br := login()
	defer nc.Close()
	fmt.Println("ready")
	if l, err := in.ReadString('\n'); err != nil || l != "go\n" {
		t.Fatalf("%q %v", l, err)
	}
	buf := make([]byte, h.replyLen("a"))
	for range n {
		if _, err := io.WriteString(nc, "a FETCH 1 BODY[]\r\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(br, buf); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("done")
}
