package testkit

import (
	"net"
	"slices"
	"strconv"
	"testing"
)

// CommonPorts returns n ports free on every one of ips (loopback
// addresses such as 127.0.0.2), for tests that run several access hosts,
// each on its own address, with one port per protocol as a deployment
// has: the proxy reaches every host of a group on the same port.
func CommonPorts(t testing.TB, n int, ips ...string) []int {
	t.Helper()
	out := make([]int, 0, n)
	for len(out) < n {
		port := 0
	try:
		for range 50 {
			ln, err := net.Listen("tcp", net.JoinHostPort(ips[0], "0"))
			if err != nil {
				t.Fatal(err)
			}
			p := ln.Addr().(*net.TCPAddr).Port
			ln.Close()
			if slices.Contains(out, p) {
				continue
			}
			for _, ip := range ips[1:] {
				l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
				if err != nil {
					continue try
				}
				l.Close()
			}
			port = p
			break
		}
		if port == 0 {
			t.Fatalf("no port free on every one of %v", ips)
		}
		out = append(out, port)
	}
	return out
}
