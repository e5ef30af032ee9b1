package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/lmtpserver"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/cassandra"
	"github.com/quiremail/quire/internal/store/embedded"
)

// Config is the configuration file's contents.
type Config = config.Config

func loadConfig(path string) (Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// openBackend opens the configured backend. On the embedded store, an
// ErrLocked error means a server owns the directory.
func openBackend(ctx context.Context, cfg Config, log *slog.Logger) (store.Backend, error) {
	return openBackendObserved(ctx, cfg, log, nil)
}

// openBackendObserved is openBackend with the Cassandra driver's requests
// told to obs (the metrics); obs may be nil.
func openBackendObserved(ctx context.Context, cfg Config, log *slog.Logger, obs cassandra.Observer) (store.Backend, error) {
	switch cfg.Store.DBType {
	case "embedded":
		return embedded.Open(cfg.Store.DataDir, embedded.Options{Logger: log, CacheSize: int64(cfg.Store.CacheSize),
			MinFree: int64(cfg.Store.MinFree), TextTTL: cfg.Store.CacheTTL.Duration()})
	case "cassandra":
		o := cassandraOptions(cfg, log)
		o.Observer = obs
		b, err := cassandra.Open(ctx, o)
		if err != nil {
			return nil, err
		}
		testFaults(b, log)
		return b, nil
	}
	return nil, fmt.Errorf("store.dbtype %q: must be \"embedded\" or \"cassandra\"", cfg.Store.DBType)
}

func storeWhere(cfg Config) string {
	if cfg.Store.DBType == "embedded" {
		return "data in " + cfg.Store.DataDir
	}
	return "Cassandra at " + strings.Join(cfg.Store.CasConnectPoints, ",")
}

func storeOptions(cfg Config, log *slog.Logger) store.Options {
	return store.Options{
		Logger:               log,
		DefaultQuotaStorage:  int64(cfg.Quota.DefaultStorage),
		DefaultQuotaMessages: cfg.Quota.DefaultMessages,
		PurgeGrace:           cfg.Store.Purge.Grace.Duration(),
		PurgeLogHistory:      cfg.Store.Purge.LogHistory.Duration(),
		RecentBodies:         int64(cfg.Store.BodyCache),
	}
}

func lmtpOptions(cfg Config, st *store.Store, log *slog.Logger) lmtpserver.Options {
	return lmtpserver.Options{
		Store:          st,
		Logger:         log,
		Hostname:       cfg.Server.Hostname,
		MaxMessageSize: int64(cfg.LMTP.MaxMessageSize),
		MaxRecipients:  cfg.LMTP.MaxRecipients,
		MaxLineLength:  cfg.LMTP.MaxLineLength,
		MaxConnections: cfg.LMTP.MaxConnections,
		Timeout:        cfg.LMTP.Timeout.Duration(),
		SlowCommand:    cfg.Log.SlowCommand.Duration(),
	}
}

// casTLS maps a [store.castls] table, or a keyspace's own
// ([store.casmetatls], ...), onto the backend's options.
func casTLS(t config.CasTLS) cassandra.TLSOptions {
	return cassandra.TLSOptions{Enable: t.Enable, CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, Verify: t.Verify}
}

func cassandraOptions(cfg Config, log *slog.Logger) cassandra.Options {
	s := cfg.Store
	o := cassandra.DefaultOptions()
	points := func(own []string) []string {
		if len(own) > 0 {
			return own
		}
		return s.CasConnectPoints
	}
	o.Meta = cassandra.KeyspaceOptions{Name: s.CasMetaKeyspace, ConnectPoints: points(s.CasMetaConnectPoints), DataCenter: s.CasMetaDC, RF: s.CasMetaRF,
		Username: s.CasMetaUsername, Password: s.CasMetaPassword, TLS: casTLS(s.CasMetaTLS)}
	o.Msg = cassandra.KeyspaceOptions{Name: s.CasMsgKeyspace, ConnectPoints: points(s.CasMsgConnectPoints), DataCenter: s.CasMsgDC, RF: s.CasMsgRF,
		Username: s.CasMsgUsername, Password: s.CasMsgPassword, TLS: casTLS(s.CasMsgTLS)}
	o.Cache = cassandra.KeyspaceOptions{Name: s.CasCacheKeyspace, ConnectPoints: points(s.CasCacheConnectPoints), DataCenter: s.CasCacheDC, RF: s.CasCacheRF,
		Username: s.CasCacheUsername, Password: s.CasCachePassword, TLS: casTLS(s.CasCacheTLS)}
	o.Strategy = s.CasReplicationStrategy
	o.DurableWrites = s.CasDurableWrites
	o.Username, o.Password = s.CasUsername, s.CasPassword
	o.TLS = casTLS(s.CasTLS)
	o.ReadConsistency, o.ReadFallback = s.CasReadConsistency, s.CasReadFallbackConsistency
	o.WriteConsistency, o.WriteFallback = s.CasWriteConsistency, s.CasWriteFallbackConsistency
	o.DeleteConsistency, o.DeleteFallback = s.CasDeleteConsistency, s.CasDeleteFallbackConsistency
	o.SerialConsistency = s.CasSerialConsistency
	o.ConnectTimeout, o.RequestTimeout = s.CasConnectTimeout.Duration(), s.CasRequestTimeout.Duration()
	o.Retries, o.PageSize, o.SlowQuery = s.CasRetries, s.CasPageSize, s.CasSlowQuery.Duration()
	o.FallbackBackoffMin, o.FallbackBackoffMax = s.CasFallbackBackoffMin.Duration(), s.CasFallbackBackoffMax.Duration()
	o.ChunkSize, o.BucketSize, o.CacheTTL = int(s.CasMsgChunkSize), s.CasBucketSize, s.CacheTTL.Duration()
	o.Logger = log
	return o
}

// admin returns the admin surface for the configured store: the store
// itself where this process can open it, or the running server's admin API
// when the server owns the embedded data directory (openOrServer waits
// for a starting server).
func (c *cli) admin(ctx context.Context, cfgPath string) (adminapi.Admin, func(), error) {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, srv, err := openOrServer(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	if srv != nil {
		return adminapi.Remote(srv.base, srv.token), func() {}, nil
	}
	return adminapi.Local(store.New(b, storeOptions(cfg, log))), func() { b.Close() }, nil
}
