package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// forwarder is a TCP relay to a Cassandra node that the test can cut and
// restore. It listens on another loopback address with the node's own
// port: the driver keeps the contact point's address for the node it
// reached but takes the port from system.local (native_port), so with the
// same port every connection of the pool, not only the first, goes
// through the relay.
type forwarder struct {
	addr, target string
	mu           struct {
		sync.Mutex
		ln    net.Listener
		conns map[net.Conn]struct{}
	}
}

// startForwarder relays a free 127.0.0.N:port to target (host:port).
func startForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	_, port, err := net.SplitHostPort(target)
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{target: target}
	f.mu.conns = map[net.Conn]struct{}{}
	for range 50 {
		addr := fmt.Sprintf("127.0.%d.%d:%s", 1+rand.IntN(250), 1+rand.IntN(250), port)
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			f.addr = addr
			f.mu.ln = ln
			go f.serve(ln)
			t.Cleanup(f.cut)
			return f
		}
	}
	t.Fatalf("no free 127.0.x.y:%s for the relay", port)
	return nil
}

func (f *forwarder) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go f.relay(c)
	}
}

func (f *forwarder) relay(c net.Conn) {
	up, err := net.Dial("tcp", f.target)
	if err != nil {
		c.Close()
		return
	}
	if !f.track(c, up) {
		return
	}
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// track registers a relayed pair; false (both closed) once cut.
func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.ln == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.mu.conns[c] = struct{}{}
	}
	return true
}

// cut closes the listener and every relayed connection: to the driver,
// the node went away (connections reset, new ones refused).
func (f *forwarder) cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.ln != nil {
		f.mu.ln.Close()
		f.mu.ln = nil
	}
	for c := range f.mu.conns {
		c.Close()
	}
	clear(f.mu.conns)
}

// restore listens again on the same address.
func (f *forwarder) restore(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		t.Fatalf("relay: listen again on %s: %v", f.addr, err)
	}
	f.mu.Lock()
	f.mu.ln = ln
	f.mu.Unlock()
	go f.serve(ln)
}

// getReady answers GET /readyz: the status code and the parsed body.
func getReady(httpAddr string) (int, readyBody, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		return 0, readyBody{}, err
	}
	defer resp.Body.Close()
	var b readyBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		return resp.StatusCode, b, fmt.Errorf("body: %w", err)
	}
	return resp.StatusCode, b, nil
}

// waitReady polls /readyz until it answers code with the store check in
// storeStatus, or within fails the test.
func waitReady(t *testing.T, httpAddr string, code int, storeStatus string, within time.Duration) readyBody {
	t.Helper()
	var (
		gotCode int
		b       readyBody
		err     error
	)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		gotCode, b, err = getReady(httpAddr)
		if err == nil && gotCode == code && len(b.Checks) == 1 && b.Checks[0].Name == "store" && b.Checks[0].Status == storeStatus {
			return b
		}
	}
	t.Fatalf("GET /readyz did not answer %d with the store %s within %v: last %d %+v %v", code, storeStatus, within, gotCode, b, err)
	return b
}

// TestReadyzFollowsCassandra: /readyz turns 503 when the Cassandra node
// stops answering and 200 again when it is back, naming the store check
// in its body. The shared test node must not be stopped, so the server
// reaches it through a relay the test cuts and restores. For readiness
// that is the same event: the check is a read through the driver, which
// sees its connections reset and new ones refused exactly as when the
// node's process stops, and reconnects the same way when it returns.
func TestReadyzFollowsCassandra(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	f := startForwarder(t, addr)
	// search.engine "none": the store is the only check, whatever the
	// environment sets for OpenSearch.
	cfg, lmtpAddr, httpAddr := writeServerConfig(t, t.TempDir(), casStoreKeys(f.addr)+"[search]\nengine = \"none\"\n")
	startServer(t, buildQuire(t), cfg, lmtpAddr)

	waitReady(t, httpAddr, http.StatusOK, "ok", 10*time.Second)
	f.cut()
	cutAt := time.Now()
	b := waitReady(t, httpAddr, http.StatusServiceUnavailable, "failed", 15*time.Second)
	if b.Status != "unready" || b.Checks[0].Detail == "" {
		t.Errorf("/readyz with the node gone: %+v, want status unready and the store's error", b)
	}
	t.Logf("unready %v after the cut: %s", time.Since(cutAt).Round(time.Millisecond), b.Checks[0].Detail)
	f.restore(t)
	backAt := time.Now()
	b = waitReady(t, httpAddr, http.StatusOK, "ok", 90*time.Second)
	if b.Status != "ready" {
		t.Errorf("/readyz with the node back: %+v, want status ready", b)
	}
	t.Logf("ready %v after the node came back", time.Since(backAt).Round(time.Millisecond))
}
