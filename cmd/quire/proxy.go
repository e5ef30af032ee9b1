package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/account"
	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/directory/storedir"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/metrics"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/proxy"
	"github.com/quiremail/quire/internal/sdnotify"
	"github.com/quiremail/quire/internal/store"
)

// proxyServe runs the front end (docs/DEPLOY.md): IMAP, POP3 and LMTP on
// the listeners of imap.*, pop3.* and lmtp.*, each session carried to the
// first live access host of the user's store affinity group, and the
// probes and /metrics on http.listen (proxyHTTP).
func (c *cli) proxyServe(ctx context.Context, args []string) error {
	cfg, cfgPath, err := configOnly("proxy", args, nil)
	if err != nil {
		return err
	}
	log, level := newLevelLogger(cfg, c.stderr)
	log = log.With("role", "proxy")
	tuneGC(cfg, log)
	if err := cfg.LoginCheck(); err != nil {
		log.Warn("nobody can log in through this proxy", "err", err)
	}
	if len(cfg.Store.StoreHostList) == 0 {
		return errors.New("proxy: store.storehostlist defines no store affinity group: the proxy has nowhere to route users")
	}
	dir, closeDir, err := proxyDirectory(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer closeDir()
	acc, err := account.New(dir, nil, cfg.Directory.ServiceAdmins, log) // no store: the proxy opens none
	if err != nil {
		return fmt.Errorf("directory.service_admins: %w", err)
	}
	reg := metrics.New("proxy", buildVersion())
	router := proxy.NewRouter(proxy.RouterOptions{
		Groups: directory.NewGroups(cfg.Store.StoreHostList), DefaultGroup: cfg.Proxy.DefaultGroup,
		ConnectTimeout: cfg.Proxy.ConnectTimeout.Duration(), HostRetry: cfg.Proxy.HostRetry.Duration(), Logger: log,
		Observer: metrics.NewProxy(reg),
	})
	logins := &proxy.Logins{Router: router, Dir: acc}
	var guard *login.Guard
	if cfg.Proxy.Login == "service_admin" {
		// Passwords are checked here (Verify: the Authenticator's placement
		// is not asked; the proxy routes, it refers no one).
		logins.Auth, guard = authenticator(cfg, acc, log)
		logins.AdminUser, logins.AdminPassword = cfg.Proxy.AdminUser, cfg.Proxy.AdminPassword
	} else {
		// Passwords are checked at the access host, but an unknown
		// user's here, against a dummy (proxy.Logins.Unknown).
		logins.Unknown, guard = authenticator(cfg, acc, log)
		logins.Guard = guard
		logins.Dir = proxy.NewRouteCache(acc, cfg.Proxy.RouteCacheTTL.Duration(), nil)
	}
	tc, certs, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	htc, err := hostTLS(cfg.Proxy.HostTLS)
	if err != nil {
		return err
	}
	host := cfg.Server.Hostname
	i, p, l := cfg.IMAP, cfg.POP3, cfg.LMTP
	imap := proxy.NewIMAP(proxy.IMAPOptions{Logins: logins, Port: cfg.Proxy.IMAPPort, HostTLS: htc, Logger: log, Hostname: host, TLS: tc,
		AllowPlaintext: i.AllowPlaintext, MaxLineLength: i.MaxLineLength, MaxConnections: i.MaxConnections,
		MaxConnectionsPerIP: i.MaxConnectionsPerIP, MaxBadCommands: i.MaxBadCommands, Timeout: i.Timeout.Duration()})
	pop3 := proxy.NewPOP3(proxy.POP3Options{Logins: logins, Port: cfg.Proxy.POP3Port, HostTLS: htc, Logger: log, Hostname: host, TLS: tc,
		AllowPlaintext: p.AllowPlaintext, MaxLineLength: p.MaxLineLength, MaxConnections: p.MaxConnections,
		MaxBadCommands: p.MaxBadCommands, Timeout: p.Timeout.Duration()})
	lmtp := proxy.NewLMTP(proxy.LMTPOptions{Router: router, Dir: acc, Port: cfg.Proxy.LMTPPort, Logger: log, Hostname: host,
		MaxMessageSize: int64(l.MaxMessageSize), MaxRecipients: l.MaxRecipients, MaxLineLength: l.MaxLineLength,
		MaxConnections: l.MaxConnections, Timeout: l.Timeout.Duration()})
	metrics.Connections(reg, map[string]func() netserve.Stats{"imap": imap.Connections, "pop3": pop3.Connections, "lmtp": lmtp.Connections})
	if logins.Auth != nil {
		metrics.Logins(reg, logins.Auth.Stats)
	}
	// GET /readyz (ready.go): 503 until every listener is open and from
	// the start of shutdown; in between, the directory and each group.
	var ready readiness
	token, err := adminToken(cfg)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: proxyHTTP(reg, &ready, proxyChecks(acc, router, proxyPorts(cfg)), token), ReadHeaderTimeout: 10 * time.Second}

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	var lns []net.Listener
	listen := func(proto, addr string, serve func(net.Listener) error) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("proxy %s: listen on %s: %w (is another server using the port? change %s.listen)", proto, addr, err, proto)
		}
		lns = append(lns, ln)
		fmt.Fprintf(c.stdout, "quire: proxy %s listening on %s\n", proto, ln.Addr())
		wg.Go(func() {
			if err := serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				errs <- fmt.Errorf("proxy %s on %s: %w", proto, addr, err)
			}
		})
		return nil
	}
	stops := []func(context.Context) error{imap.Shutdown, pop3.Shutdown, lmtp.Shutdown}
	shutdown := func(ctx context.Context) {
		stopAll(ctx, stops, log)
		// The probes answer 503 while the sessions drain; HTTP stops last.
		if err := httpSrv.Shutdown(ctx); err != nil {
			httpSrv.Close()
		}
		wg.Wait()
	}
	serveHTTP := func(ln net.Listener) error {
		if err := httpSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	for _, s := range []struct {
		proto string
		addrs []string
		serve func(net.Listener) error
	}{
		{"imap", i.Listen, imap.Serve}, {"imaps", i.TLSListen, imap.ServeTLS},
		{"pop3", p.Listen, pop3.Serve}, {"pop3s", p.TLSListen, pop3.ServeTLS},
		{"lmtp", l.Listen, lmtp.Serve},
		{"http", cfg.HTTP.Listen, serveHTTP},
	} {
		for _, addr := range s.addrs {
			if err := listen(s.proto, addr, s.serve); err != nil {
				cctx, cancel := context.WithCancel(context.Background())
				cancel()
				shutdown(cctx)
				return err
			}
		}
	}
	ready.Ready()
	fmt.Fprintf(c.stdout, "quire: proxy ready, routing to store affinity groups %v\n", directory.NewGroups(cfg.Store.StoreHostList).Names())
	// SIGHUP (systemctl reload): the certificate, log.level, the
	// failed-login limits and the connection limits, as for serve
	// (reload.go).
	sd := sdnotify.New(os.Getenv("NOTIFY_SOCKET"))
	limits := func(next Config) {
		imap.SetMaxConnections(next.IMAP.MaxConnections)
		imap.SetMaxConnectionsPerIP(next.IMAP.MaxConnectionsPerIP)
		pop3.SetMaxConnections(next.POP3.MaxConnections)
		lmtp.SetMaxConnections(next.LMTP.MaxConnections)
	}
	defer handleReloads(&reloader{path: cfgPath, level: level, certs: certs, guard: guard, limits: limits, limitKeys: proxyLimitKeys,
		log: log, notify: sd, cur: cfg})()
	if err := sd.Ready("proxying"); err != nil {
		log.Warn("cannot tell the service manager we are ready", "err", err)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errs:
		log.Error("listener failed", "err", err)
	}
	ready.Stopping()
	_ = sd.Stopping("draining sessions")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownGrace.Duration())
	defer cancel()
	shutdown(sctx)
	return err
}

// proxyDirectory opens the directory the proxy routes by: LDAP, or the
// store's users on Cassandra (the embedded store belongs to its one
// server, and a deployment with a proxy has several).
func proxyDirectory(ctx context.Context, cfg Config, log *slog.Logger) (directory.Directory, func(), error) {
	if cfg.Directory.Type == "ldap" {
		ld, err := openLDAP(ctx, cfg, log)
		if err != nil {
			return nil, nil, err
		}
		return ld, ld.Close, nil
	}
	if cfg.Store.DBType != "cassandra" {
		return nil, nil, errors.New(`proxy: directory.type = "store" reads users from the store, which needs store.dbtype = "cassandra" (or use directory.type = "ldap")`)
	}
	b, err := openBackend(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	return storedir.New(store.New(b, storeOptions(cfg, log))), func() { b.Close() }, nil
}
