package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/sdnotify"
)

// certStore holds the certificate IMAP and POP3 offer. The tls.Config
// they share asks it at every handshake (GetCertificate), so a reload
// that swaps it reaches the next connection, and never one in progress.
type certStore struct {
	cur atomic.Pointer[tls.Certificate]
}

func (s *certStore) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cur.Load(), nil }

// load reads tls.cert_file and tls.key_file and makes them current.
func (s *certStore) load(cfg Config) error {
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return fmt.Errorf("tls: load tls.cert_file %s and tls.key_file %s: %w", cfg.TLS.CertFile, cfg.TLS.KeyFile, err)
	}
	s.cur.Store(&cert)
	return nil
}

// tlsConfig loads tls.cert_file and tls.key_file, or returns nils when
// they are not set (no STARTTLS/STLS, no implicit TLS listeners). The
// certStore is what a reload swaps.
func tlsConfig(cfg Config) (*tls.Config, *certStore, error) {
	if cfg.TLS.CertFile == "" {
		return nil, nil, nil
	}
	certs := &certStore{}
	if err := certs.load(cfg); err != nil {
		return nil, nil, err
	}
	return &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12}, certs, nil
}

// newLevelLogger is the server's logger; its level is the LevelVar a
// reload sets.
func newLevelLogger(cfg Config, w io.Writer) (*slog.Logger, *slog.LevelVar) {
	lv := &slog.LevelVar{}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Log.Level)) // Validate has checked it
	lv.Set(lvl)
	opts := &slog.HandlerOptions{Level: lv}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), lv
	}
	return slog.New(slog.NewTextHandler(w, opts)), lv
}

// newLogger is newLevelLogger for commands that do not reload.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	log, _ := newLevelLogger(cfg, w)
	return log
}

// reloader applies a changed configuration file to a running server (on
// SIGHUP: systemctl reload). It applies what can change live: the TLS
// certificate (read again even when its paths are the same, for a renewed
// certificate), log.level, the failed-login limits (login.free_failures,
// login.max_delay), the garbage collector's (server.gc_percent,
// server.memory_limit) and, where the role passes limits, the connection
// limits it names (limitKeys: connLimitKeys for serve, proxyLimitKeys
// for proxy). Each of those that changed is logged with its
// old and new value; every other key that changed is logged as needing a
// restart, by name (never by value: it may be a secret).
type reloader struct {
	path      string         // the configuration file
	level     *slog.LevelVar // log.level
	certs     *certStore     // nil when the server started without TLS
	guard     *login.Guard   // login.free_failures, login.max_delay
	limits    func(Config)   // applies limitKeys; nil: they need a restart
	limitKeys []string
	log       *slog.Logger
	notify    *sdnotify.Notifier

	mu  sync.Mutex
	cur Config // the configuration in effect
}

// connLimitKeys are the connection limits quire serve applies on a
// reload (reloader.limits): the accept loops and the per-user and
// per-address limiters read them at each new connection and login, so a
// raised limit lets the next one in at once and a lowered one refuses new
// ones, in the protocol's own words, while the sessions already open stay
// (package netserve, login.Limiter).
var connLimitKeys = []string{"imap.max_connections", "imap.max_connections_per_user", "imap.max_connections_per_ip",
	"pop3.max_connections", "lmtp.max_connections"}

// proxyLimitKeys are the connection limits quire proxy applies on a
// reload: its listeners' bounds and the IMAP per-address one (the proxy
// has no per-user bound; the access hosts keep theirs).
var proxyLimitKeys = []string{"imap.max_connections", "imap.max_connections_per_ip", "pop3.max_connections", "lmtp.max_connections"}

// reload reads the file again and applies it; on an error nothing
// changes. The service manager hears RELOADING=1 before and READY=1
// after, whatever the outcome.
func (r *reloader) reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.notify.Reloading("reloading " + r.path); err != nil {
		r.log.Warn("reload: cannot tell the service manager", "err", err)
	}
	err := r.apply()
	status := "serving"
	if err != nil {
		r.log.Error("reload failed: the running configuration stays", "config", r.path, "err", err)
		status = "serving; the last reload failed: " + err.Error()
	}
	if nerr := r.notify.Ready(status); nerr != nil {
		r.log.Warn("reload: cannot tell the service manager", "err", nerr)
	}
	return err
}

func (r *reloader) apply() error {
	next, err := loadConfig(r.path)
	if err != nil {
		return err
	}
	live := map[string]bool{"log.level": true, "login.free_failures": true, "login.max_delay": true}
	if r.certs != nil && next.TLS.CertFile != "" {
		if err := r.certs.load(next); err != nil {
			return err
		}
		live["tls.cert_file"], live["tls.key_file"] = true, true
	}
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(next.Log.Level))
	r.level.Set(lvl)
	r.guard.SetLimits(next.Login.FreeFailures, next.Login.MaxDelay.Duration())
	// The runtime takes a new GOGC and memory limit at once; "no limit"
	// after a limit is the one change tuneGC does not undo.
	tuneGC(next, r.log)
	live["server.gc_percent"] = true
	live["server.memory_limit"] = next.Server.MemoryLimit > 0
	if r.limits != nil {
		r.limits(next)
		for _, k := range r.limitKeys {
			live[k] = true
		}
	}
	var restart []string
	applied := 0
	for _, k := range config.Keys() {
		a, _ := r.cur.Get(k)
		b, _ := next.Get(k)
		switch {
		case a == b:
		case live[k]:
			applied++
			if config.Secret(k) {
				r.log.Info("reload: "+k+" changed: applied", "key", k)
			} else {
				r.log.Info("reload: "+k+" changed: applied", "key", k, "from", a, "to", b)
			}
		default:
			restart = append(restart, k)
			r.log.Warn(k+" changed: needs a restart", "key", k)
		}
	}
	// What only a restart applies is not in effect: the next reload
	// compares with what is, and names it again.
	for _, k := range restart {
		v, _ := r.cur.Get(k)
		_ = next.Set(k, v)
	}
	r.cur = next
	r.log.Info("reloaded", "config", r.path, "certificate", r.certs != nil, "applied", applied, "needs_restart", len(restart))
	return nil
}

// handleReloads calls r.reload at every SIGHUP until the returned stop
// is called.
func handleReloads(r *reloader) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-hup:
				_ = r.reload() // logged
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { signal.Stop(hup); cancel(); <-done }
}
