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

	"github.com/quiremail/quire/internal/imapserver"
	"github.com/quiremail/quire/internal/lmtpserver"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/pop3server"
	"github.com/quiremail/quire/internal/sdnotify"
	"github.com/quiremail/quire/internal/store"
)

func (c *cli) serve(ctx context.Context, args []string) error {
	cfg, cfgPath, err := configOnly("serve", args, nil)
	if err != nil {
		return err
	}
	log, level := newLevelLogger(cfg, c.stderr)
	tuneGC(cfg, log)
	if err := cfg.LoginCheck(); err != nil {
		log.Warn("nobody can log in with this configuration", "err", err)
	}
	sm := newServeMetrics(cfg)
	b, err := openServeBackend(ctx, cfg, log, sm.cassandraObserver())
	if err != nil {
		return err
	}
	defer b.Close()
	hub := notify.NewHub()
	so := storeOptions(cfg, log)
	so.Publish, so.Observer = hub.Publish, sm.store
	var mesh *notify.Mesh
	if len(cfg.Notify.Listen) > 0 {
		// Several access hosts: changes go to the other hosts of the user's
		// store affinity group too (DESIGN.md section 5).
		mesh, err = notify.NewMesh(notify.MeshOptions{Self: cfg.Server.Hostname, Groups: cfg.Store.StoreHostList,
			Port: cfg.Notify.Port, Secret: []byte(cfg.Notify.Secret), Hub: hub, Logger: log})
		if err != nil {
			return err
		}
		defer mesh.Close()
		so.Publish = mesh.Publish
	}
	st := store.New(b, so)
	ss, err := openSearch(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	defer ss.close()
	ictx, stopIndexer := context.WithCancel(context.WithoutCancel(ctx))
	indexerDone := make(chan struct{})
	go func() { ss.run(ictx); close(indexerDone) }()
	defer func() { stopIndexer(); <-indexerDone }()
	defer startLedger(ctx, st, log)() // uncertain commits of the Cassandra store
	defer startPurge(ctx, cfg, st, log)()
	tc, certs, err := tlsConfig(cfg)
	if err != nil {
		return err
	}
	acc, closeDir, err := openDirectory(ctx, cfg, st, log)
	if err != nil {
		return err
	}
	defer closeDir()
	auth, guard := authenticator(cfg, acc, log)

	token, err := adminToken(cfg)
	if err != nil {
		return err
	}
	// GET /readyz: 503 until every listener below is open, 503 again from
	// the start of shutdown (readiness, ready.go).
	var ready readiness
	// Shutdown (docs/ARCHITECTURE.md, "Accepting and shutting down"): the
	// protocol servers stop accepting and drain together within
	// server.shutdown_grace; the HTTP servers, which answer /readyz with 503
	// meanwhile, stop last.
	var (
		wg       sync.WaitGroup
		stoppers []func(context.Context) error // protocol servers and the notifier
		httpStop []func(context.Context) error
		errs     = make(chan error, 16)
	)
	listen := func(proto, addr string, serve func(net.Listener) error) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: listen on %s: %w (is another server using the port? change %s.listen)", proto, addr, err, proto)
		}
		fmt.Fprintf(c.stdout, "quire: %s listening on %s\n", proto, ln.Addr())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serve(ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("%s on %s: %w", proto, addr, err)
			}
		}()
		return nil
	}
	shutdown := func(ctx context.Context) {
		stopAll(ctx, stoppers, log)
		stopAll(ctx, httpStop, log)
		wg.Wait()
	}
	// abort undoes a start that failed half way: everything closes at once.
	abort := func(err error) error {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		shutdown(ctx)
		return err
	}
	var lmtps []*lmtpserver.Server
	for _, addr := range cfg.LMTP.Listen {
		lo := lmtpOptions(cfg, st, log)
		lo.Store, lo.Observer = lmtpStore(cfg, st, acc), sm.lmtp
		srv := lmtpserver.New(lo)
		lmtps = append(lmtps, srv)
		stoppers = append(stoppers, srv.Shutdown)
		if err := listen("lmtp", addr, srv.Serve); err != nil {
			return abort(err)
		}
	}
	io := imapOptions(cfg, st, auth, hub, tc, log)
	io.Search, io.Attachments, io.Observer = ss.idx, ss.attachments, sm.imap
	imap := imapserver.New(io)
	po := pop3Options(cfg, st, auth, tc, log)
	po.Observer = sm.pop3
	pop3 := pop3server.New(po)
	conns := map[string]func() netserve.Stats{
		"imap": imap.Connections, "pop3": pop3.Connections,
		"lmtp": func() netserve.Stats { return sumConns(lmtps) },
	}
	sm.collect(st, ss, mesh, auth, conns)
	oh := operatorHTTP{st: st, ss: ss, mesh: mesh, token: token, ready: &ready,
		metrics: sm.reg.Handler(), metricsPublic: cfg.HTTP.MetricsPublic,
		status: statusPage(cfg, st, ss, mesh, conns)}
	if cfg.Directory.Type == "ldap" {
		oh.dir = acc
	}
	for _, addr := range cfg.HTTP.Listen {
		srv := &http.Server{Handler: httpHandler(oh), ReadHeaderTimeout: 10 * time.Second}
		httpStop = append(httpStop, func(ctx context.Context) error {
			if err := srv.Shutdown(ctx); err != nil {
				srv.Close()
				return err
			}
			return nil
		})
		if err := listen("http", addr, srv.Serve); err != nil {
			return abort(err)
		}
	}
	if mesh != nil {
		stoppers = append(stoppers, func(context.Context) error { mesh.Close(); return nil })
	}
	for _, addr := range cfg.Notify.Listen {
		// The mesh's accept loop stops on any error: the listener waits out
		// temporary ones (EMFILE and the like) for it.
		serve := func(ln net.Listener) error { return mesh.Serve(netserve.NewListener(ln, log.With("proto", "notify"))) }
		if err := listen("notify", addr, serve); err != nil {
			return abort(err)
		}
	}
	stoppers = append(stoppers, imap.Shutdown)
	for _, addr := range cfg.IMAP.Listen {
		if err := listen("imap", addr, imap.Serve); err != nil {
			return abort(err)
		}
	}
	for _, addr := range cfg.IMAP.TLSListen {
		if err := listen("imaps", addr, imap.ServeTLS); err != nil {
			return abort(err)
		}
	}
	stoppers = append(stoppers, pop3.Shutdown)
	for _, addr := range cfg.POP3.Listen {
		if err := listen("pop3", addr, pop3.Serve); err != nil {
			return abort(err)
		}
	}
	for _, addr := range cfg.POP3.TLSListen {
		if err := listen("pop3s", addr, pop3.ServeTLS); err != nil {
			return abort(err)
		}
	}
	fmt.Fprintf(c.stdout, "quire: %s store ready (%s)\n", cfg.Store.DBType, storeWhere(cfg))
	fmt.Fprintf(c.stdout, "quire: create a user with:\n  echo 'PASSWORD' | %s user add you@example.org --password-stdin%s\n",
		os.Args[0], configFlag(cfgPath))
	ready.Ready()
	// systemd (Type=notify): READY=1 now, RELOADING=1 and READY=1 around
	// each SIGHUP reload (reload.go), STOPPING=1 at shutdown.
	sd := sdnotify.New(os.Getenv("NOTIFY_SOCKET"))
	limits := func(next Config) {
		imap.SetLimits(imapLimits(next))
		pop3.SetMaxConnections(next.POP3.MaxConnections)
		for _, s := range lmtps {
			s.SetMaxConnections(next.LMTP.MaxConnections)
		}
	}
	defer handleReloads(&reloader{path: cfgPath, level: level, certs: certs, guard: guard, limits: limits, limitKeys: connLimitKeys,
		log: log, notify: sd, cur: cfg})()
	if err := sd.Ready("serving"); err != nil {
		log.Warn("cannot tell the service manager we are ready", "err", err)
	}
	log.Info("serving", "dbtype", cfg.Store.DBType)
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errs:
		log.Error("listener failed", "err", err)
	}
	ready.Stopping()
	_ = sd.Stopping("draining sessions")
	grace := cfg.Server.ShutdownGrace.Duration()
	log.Info("draining sessions", "grace", grace)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	shutdown(sctx)
	return err
}

// sumConns adds the connection counts of the LMTP servers (one per
// lmtp.listen address).
func sumConns(srvs []*lmtpserver.Server) netserve.Stats {
	var t netserve.Stats
	for _, s := range srvs {
		c := s.Connections()
		t.Open += c.Open
		t.Accepted += c.Accepted
		t.Refused += c.Refused
		t.AcceptErrors += c.AcceptErrors
	}
	return t
}

// stopAll runs every stop function at once and waits for them; one that
// needed more than ctx's time is logged.
func stopAll(ctx context.Context, stops []func(context.Context) error, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, stop := range stops {
		wg.Go(func() {
			if err := stop(ctx); err != nil {
				log.Warn("shutdown: connections closed at the end of the grace", "err", err)
			}
		})
	}
	wg.Wait()
}

func configFlag(path string) string {
	if path == "" {
		return ""
	}
	return " --config " + path
}
