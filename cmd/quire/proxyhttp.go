package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/pprof"
	"slices"
	"strings"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/metrics"
	"github.com/quiremail/quire/internal/proxy"
)

// proxyHTTP is quire proxy's http.listen surface: GET /healthz, GET
// /readyz and GET /metrics, open, and the profiler (/debug/pprof/),
// behind the admin token (written to http.admin_token_file, as serve
// does; without that key no one can use it). /metrics is open, like isc
// serve's: the proxy opens no store to administer, and its figures name
// only the configured groups and hosts; keep http.listen on the
// monitoring network (docs/METRICS.md).
func proxyHTTP(reg *metrics.Registry, ready *readiness, checks []readyCheck, token string) http.Handler {
	private := http.NewServeMux()
	private.HandleFunc("/debug/pprof/", pprof.Index)
	private.HandleFunc("/debug/pprof/profile", pprof.Profile)
	private.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", ready.handler(checks))
	mux.Handle("GET /metrics", reg.Handler())
	mux.Handle("/debug/pprof/", adminapi.RequireToken(token, private))
	return mux
}

// prober is what the group checks need of the router.
type prober interface {
	Probe(ctx context.Context, ports []int) map[string][]proxy.HostState
}

// proxyChecks are the proxy's readiness checks: the directory it routes
// by answers a lookup, and each store affinity group has a host that
// accepts connections on every port the proxy routes to.
func proxyChecks(dir entryFinder, r prober, ports []int) []readyCheck {
	return []readyCheck{directoryCheck(dir), groupsCheck(r, ports)}
}

// groupsCheck probes every host of every group (proxy.Router.Probe): a
// group with no host answering fails the check (its users cannot log in
// and their mail waits: the proxy is unready, so a load balancer prefers
// a proxy that reaches them); a group with some hosts down is degraded
// (the group's next host serves).
func groupsCheck(r prober, ports []int) readyCheck {
	return readyCheck{name: "groups", run: func(ctx context.Context) (string, error) {
		var dead, down []string
		states := r.Probe(ctx, ports)
		for _, g := range slices.Sorted(maps.Keys(states)) {
			up := 0
			var why []string
			for _, h := range states[g] {
				if h.Up {
					up++
					continue
				}
				down = append(down, g+": "+h.Addr)
				why = append(why, h.Addr+" ("+h.Err+")")
			}
			if up == 0 {
				dead = append(dead, fmt.Sprintf("group %s: no host answers: %s", g, strings.Join(why, ", ")))
			}
		}
		if len(dead) > 0 {
			return "", fmt.Errorf("%s", strings.Join(dead, "; "))
		}
		if len(down) > 0 {
			return "hosts not answering (their groups' other hosts serve): " + strings.Join(down, ", "), nil
		}
		return "", nil
	}}
}

// proxyPorts are the access hosts' ports the proxy routes to: those of
// the protocols it listens for.
func proxyPorts(cfg Config) []int {
	var ports []int
	if len(cfg.IMAP.Listen)+len(cfg.IMAP.TLSListen) > 0 {
		ports = append(ports, cfg.Proxy.IMAPPort)
	}
	if len(cfg.POP3.Listen)+len(cfg.POP3.TLSListen) > 0 {
		ports = append(ports, cfg.Proxy.POP3Port)
	}
	if len(cfg.LMTP.Listen) > 0 {
		ports = append(ports, cfg.Proxy.LMTPPort)
	}
	return ports
}
