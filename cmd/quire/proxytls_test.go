package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/proxy"
	"github.com/quiremail/quire/internal/testkit"
)

// TestHostTLSVerify: proxy.host_tls's verify modes against access hosts
// with generated certificates: "full" takes the test CA's certificate
// for the host's address and refuses one for another name; "ca" takes
// both and refuses another CA's; "none" takes anything; off is plain.
func TestHostTLSVerify(t *testing.T) {
	ca, other := testkit.NewCA(t, "quire test CA"), testkit.NewCA(t, "another CA")
	caFile, otherFile := ca.WritePEM(t, t.TempDir()), other.WritePEM(t, t.TempDir())
	// One host a certificate: the CA's for 127.0.0.1; the CA's for
	// another name; the other CA's for 127.0.0.1.
	hosts := map[string]tls.Certificate{
		"right": ca.Server(t, "127.0.0.1"), "misnamed": ca.Server(t, "access9.example.org"), "foreign": other.Server(t, "127.0.0.1"),
	}
	for name, cert := range hosts {
		port := greetingHost(t, &tls.Config{Certificates: []tls.Certificate{cert}})
		for _, tc := range []struct {
			verify, cafile string
			ok             map[string]bool
		}{
			{"full", caFile, map[string]bool{"right": true}},
			{"ca", caFile, map[string]bool{"right": true, "misnamed": true}},
			{"ca", otherFile, map[string]bool{"foreign": true}},
			{"none", "", map[string]bool{"right": true, "misnamed": true, "foreign": true}},
		} {
			htc, err := hostTLS(config.CasTLS{Enable: true, Verify: tc.verify, CAFile: tc.cafile})
			if err != nil {
				t.Fatal(err)
			}
			r := proxy.NewRouter(proxy.RouterOptions{Groups: directory.NewGroups(map[string][]string{"g": {"127.0.0.1"}})})
			b, err := r.Connect(context.Background(), "g", port, htc, greeting)
			if tc.ok[name] != (err == nil) {
				t.Errorf("verify %s, cafile %s, host %s: %v, want ok %v", tc.verify, tc.cafile, name, err, tc.ok[name])
			}
			if err == nil {
				if b.Greeting != "* OK over TLS" {
					t.Errorf("greeting %q", b.Greeting)
				}
				b.Close()
			}
		}
	}
	if htc, err := hostTLS(config.CasTLS{Verify: "full", CAFile: caFile}); htc != nil || err != nil {
		t.Fatalf("host_tls off: %v %v, want no TLS", htc, err)
	}
	if _, err := hostTLS(config.CasTLS{Enable: true, Verify: "full", CAFile: "/nonexistent/ca.pem"}); err == nil ||
		!strings.Contains(err.Error(), "proxy.host_tls.cafile") {
		t.Fatalf("a missing cafile: %v, want an error naming proxy.host_tls.cafile", err)
	}
}

// greetingHost serves "* OK over TLS" with tc on 127.0.0.1 and returns
// its port.
func greetingHost(t *testing.T, tc *tls.Config) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				_, _ = nc.Write([]byte("* OK over TLS\r\n"))
				_, _ = bufio.NewReader(nc).ReadString('\n')
			}()
		}
	}()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(p)
	return port
}

func greeting(br *bufio.Reader) (string, error) {
	l, err := br.ReadString('\n')
	return strings.TrimRight(l, "\r\n"), err
}
