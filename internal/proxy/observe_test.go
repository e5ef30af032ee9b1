package proxy

import (
	"bufio"
	"context"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/directory"
)

// recorder is an Observer that keeps the host calls.
type recorder struct {
	mu              sync.Mutex
	connects, skips []string
}

func (r *recorder) Login(string, string)          {}
func (r *recorder) Routed(string, string, string) {}
func (r *recorder) LMTPTransaction(string)        {}
func (r *recorder) LMTPRecipient(string)          {}
func (r *recorder) Connect(host string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := "ok"
	if err != nil {
		res = "error"
	}
	r.connects = append(r.connects, host+" "+res)
}
func (r *recorder) Skipped(host string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.skips = append(r.skips, host)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

// TestRouterObservesHosts: Connect reports each attempt (the dead first
// host, then the live one), and the next Connect reports the dead host
// as skipped; Probe reports per group which hosts accept on the port.
func TestRouterObservesHosts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("220 hi\r\n"))
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	// 127.0.0.1 listens on port; 127.0.0.5 does not (nothing binds it).
	rec := &recorder{}
	r := NewRouter(RouterOptions{Groups: directory.NewGroups(map[string][]string{
		"east": {"127.0.0.5", "127.0.0.1"}, "west": {"127.0.0.5"},
	}), ConnectTimeout: time.Second, HostRetry: time.Minute, Observer: rec})
	greet := func(br *bufio.Reader) (string, error) { return br.ReadString('\n') }
	for range 2 {
		b, err := r.Connect(context.Background(), "east", port, nil, greet)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	}
	live, dead := "127.0.0.1:"+strconv.Itoa(port), "127.0.0.5:"+strconv.Itoa(port)
	if want := []string{dead + " error", live + " ok", live + " ok"}; !reflect.DeepEqual(rec.connects, want) {
		t.Errorf("connects %q, want %q", rec.connects, want)
	}
	if want := []string{dead}; !reflect.DeepEqual(rec.skips, want) {
		t.Errorf("skips %q, want %q", rec.skips, want)
	}

	got := r.Probe(context.Background(), []int{port})
	for _, hs := range got {
		for i := range hs {
			if !hs[i].Up && !strings.Contains(hs[i].Err, "refused") {
				t.Errorf("probe of %s: %q, want connection refused", hs[i].Addr, hs[i].Err)
			}
			hs[i].Err = ""
		}
	}
	want := map[string][]HostState{
		"east": {{Addr: "127.0.0.5"}, {Addr: "127.0.0.1", Up: true}},
		"west": {{Addr: "127.0.0.5"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Probe: %+v, want %+v", got, want)
	}
	// A second port the live host does not listen on makes it down too.
	if got := r.Probe(context.Background(), []int{port, closedPort(t)}); got["east"][1].Up {
		t.Errorf("Probe with a closed second port: %+v, want 127.0.0.1 down", got["east"])
	}
}
