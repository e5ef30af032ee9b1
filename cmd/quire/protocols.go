package main

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/imapserver"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/pop3server"
	"github.com/quiremail/quire/internal/store"
)

// authenticator is shared by IMAP and POP3, so failed logins on one delay
// the other (login.free_failures, login.max_delay), and their password
// checks share one memory budget (login.hash_memory, login.hash_wait) and
// one cache (login.cache_ttl, login.cache_entries). Users are looked up
// and verified through acc (directory.type).
//
// The Guard is returned too: a reload changes its limits.
func authenticator(cfg Config, acc login.Accounts, log *slog.Logger) (*login.Authenticator, *login.Guard) {
	l := cfg.Login
	g := login.NewGuard(login.GuardOptions{
		FreeFailures: l.FreeFailures,
		MaxDelay:     l.MaxDelay.Duration(),
	})
	return login.NewDirectoryAuthenticator(acc, g, login.AuthOptions{
		Budget:       login.NewBudget(int64(l.HashMemory)),
		HashWait:     l.HashWait.Duration(),
		CacheTTL:     l.CacheTTL.Duration(),
		CacheEntries: l.CacheEntries,
		Placement:    placement(cfg),
	}, log), g
}

// placement is where this host stands among the store affinity groups:
// users of another group are referred (login.other_group = "refer").
func placement(cfg Config) login.Placement {
	groups := directory.NewGroups(cfg.Store.StoreHostList)
	own, _ := groups.Resolve(cfg.Server.Hostname)
	return login.Placement{Groups: groups, Own: own, Refer: cfg.Login.OtherGroup == "refer"}
}

// trustedProxies is server.trusted_proxies, which Validate checked.
func trustedProxies(cfg Config) login.Proxies {
	p, _ := login.ParseProxies(cfg.Server.TrustedProxies) // nil, trusting no one, on what Validate refuses
	return p
}

func imapOptions(cfg Config, st *store.Store, auth *login.Authenticator, hub *notify.Hub, tc *tls.Config, log *slog.Logger) imapserver.Options {
	i := cfg.IMAP
	return imapserver.Options{
		Store: st, Auth: auth, Hub: hub, Logger: log,
		Hostname:              cfg.Server.Hostname,
		TLS:                   tc,
		AllowPlaintext:        i.AllowPlaintext,
		MaxLineLength:         i.MaxLineLength,
		MaxLiteralSize:        int64(i.MaxLiteralSize),
		EnvelopeCache:         int64(i.EnvelopeCache),
		PhraseFilterCache:     int64(i.PhraseFilterCache),
		MaxConnections:        i.MaxConnections,
		MaxConnectionsPerUser: i.MaxConnectionsPerUser,
		MaxConnectionsPerIP:   i.MaxConnectionsPerIP,
		MaxBadCommands:        i.MaxBadCommands,
		Timeout:               i.Timeout.Duration(),
		Recheck:               max(i.Recheck.Duration(), 100*time.Millisecond),
		SlowCommand:           cfg.Log.SlowCommand.Duration(),
		TrustedProxies:        trustedProxies(cfg),
		LoginReferrals:        placement(cfg).Own != "" && cfg.Login.OtherGroup == "refer",
	}
}

// imapLimits are the IMAP connection limits, which a reload applies.
func imapLimits(cfg Config) imapserver.Limits {
	i := cfg.IMAP
	return imapserver.Limits{MaxConnections: i.MaxConnections, MaxConnectionsPerUser: i.MaxConnectionsPerUser,
		MaxConnectionsPerIP: i.MaxConnectionsPerIP}
}

func pop3Options(cfg Config, st *store.Store, auth *login.Authenticator, tc *tls.Config, log *slog.Logger) pop3server.Options {
	p := cfg.POP3
	return pop3server.Options{
		Store: st, Auth: auth, Logger: log, Hostname: cfg.Server.Hostname, TLS: tc,
		AllowPlaintext: p.AllowPlaintext,
		MaxBadCommands: p.MaxBadCommands,
		MaxLineLength:  p.MaxLineLength,
		MaxConnections: p.MaxConnections,
		Timeout:        p.Timeout.Duration(),
		SlowCommand:    cfg.Log.SlowCommand.Duration(),
		TrustedProxies: trustedProxies(cfg),
	}
}
