package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/indexer"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
	bleveindex "github.com/quiremail/quire/internal/search/bleve"
	"github.com/quiremail/quire/internal/search/opensearch"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
)

// searchStack is one host's converter, full-text index and indexer
// (DESIGN.md section 4). idx and svc are nil with search.engine = "none".
type searchStack struct {
	conv *convert.Converter
	st   *store.Store
	log  *slog.Logger
	idx  search.Index
	// rebuild: the index was of an older format and was made anew, empty;
	// run reindexes every user.
	rebuild bool
	svc     *indexer.Service
	close   func()
}

// converterOptions are the bounds of in-process conversion, from [isc]:
// serve and isc serve convert alike.
func converterOptions(i config.ISC) convert.Options {
	return convert.Options{
		Timeout: i.Timeout.Duration(), MaxInput: int64(i.MaxPartSize),
		MaxPDFMemory: int64(i.MaxPDFMemory), EngineCache: i.EngineCacheDir(),
	}
}

// openSearch builds the converter from [isc] and the index from [search],
// and makes the indexer the store's index hook. run starts the indexer's
// background work.
func openSearch(ctx context.Context, cfg Config, st *store.Store, log *slog.Logger) (*searchStack, error) {
	hc, err := iscHTTPClient(cfg.ISC)
	if err != nil {
		return nil, err
	}
	o := converterOptions(cfg.ISC)
	o.Hosts, o.HTTP, o.Tika, o.Cache = cfg.ISC.Hosts, hc, cfg.ISC.Tika, st
	conv := convert.New(o)
	s := &searchStack{conv: conv, st: st, log: log, close: conv.Close}
	switch cfg.SearchEngine() {
	case "bleve":
		dir, rebuild, err := indexDir(cfg.Store.DataDir)
		if err != nil {
			conv.Close()
			return nil, err
		}
		bl, err := bleveindex.OpenWith(dir, bleveindex.Options{Logger: log.With("component", "index")})
		if err != nil {
			conv.Close()
			return nil, fmt.Errorf("search: %w (the index is rebuilt by quire reindex if it is damaged)", err)
		}
		s.idx, s.rebuild = bl, rebuild || bl.Rebuilt()
		if s.rebuild {
			log.Warn("search: the index in "+dir+" was of an older format and was removed; every user is reindexed in the background, and SEARCH reads the messages meanwhile", "dir", dir)
		}
	case "opensearch":
		c := cfg.Search
		oc, err := opensearch.New(ctx, opensearch.Options{URL: c.URL, Index: c.Index, Shards: c.Shards, Replicas: c.Replicas,
			Username: c.Username, Password: c.Password})
		if err != nil {
			conv.Close()
			return nil, fmt.Errorf("search: %w (check search.url, or set search.engine = \"none\" to search without an index)", err)
		}
		s.idx = oc
	default:
		log.Warn("search: no full-text index (search.engine = \"none\"): SEARCH reads every message")
		return s, nil
	}
	s.svc = indexer.New(indexer.Options{
		Store: st, Index: s.idx, Converter: conv, Deferred: cfg.ISC.Mode == "deferred", DeliveryWait: cfg.ISC.DeliveryWait.Duration(),
		Groups: queueGroups(cfg), Workers: cfg.ISC.Workers, Logger: log.With("component", "indexer"),
	})
	st.SetIndexHook(s.svc)
	return s, nil
}

// indexDir is the embedded index's directory, datadir/search, and
// whether it must be rebuilt: releases before the vocabulary kept their
// index (of suffixes) in datadir/index, which is removed, with anything
// in datadir/search (an index this release made before a rollback ran
// the older one, which indexed into datadir/index meanwhile). The older
// release's directory name is not reused, so that a rollback finds no
// index it would misread: it makes an empty one, and SEARCH stays right.
func indexDir(dataDir string) (dir string, rebuild bool, err error) {
	dir, old := filepath.Join(dataDir, "search"), filepath.Join(dataDir, "index")
	if _, err := os.Stat(old); err != nil {
		return dir, false, nil
	}
	for _, d := range []string{old, dir} {
		if err := os.RemoveAll(d); err != nil {
			return "", false, fmt.Errorf("search: remove the index of an older release: %w", err)
		}
	}
	return dir, true, nil
}

// run does the indexer's background work until ctx ends, and rebuilds
// an index that opening found of an older format.
func (s *searchStack) run(ctx context.Context) {
	if s.svc == nil {
		return
	}
	done := make(chan struct{})
	if s.rebuild {
		go func() {
			defer close(done)
			s.rebuildAll(ctx)
		}()
	} else {
		close(done)
	}
	s.svc.Run(ctx)
	<-done
}

// rebuildAll reindexes every user, logging the outcome; a failure leaves
// the rest to `quire reindex` (SEARCH is right without the index, slower).
func (s *searchStack) rebuildAll(ctx context.Context) {
	var last progressLine
	err := supervise.Catch(func() error { // a panic fails the rebuild, not the process
		return runReindex(ctx, s.st, s, "", func(p progressLine) { last = p })
	})
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Error("search: rebuilding the index failed; run quire reindex", "err", err, "users_done", last.Users)
	case err == nil:
		s.log.Info("search: the index is rebuilt", "users", last.Users)
	}
}

// attachments is imapserver.Options.Attachments: BODY and TEXT read the
// converted attachments.
func (s *searchStack) attachments(ctx context.Context, raw []byte, root *message.Part) string {
	return s.conv.Attachments(ctx, raw, root)
}

// handle adds the statistics endpoints to an access host's HTTP mux.
func (s *searchStack) handle(mux *http.ServeMux) {
	mux.HandleFunc("GET /converter/statistics", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, s.conv.Stats())
	})
	mux.HandleFunc("GET /indexer/statistics", func(w http.ResponseWriter, _ *http.Request) {
		if s.svc == nil {
			http.Error(w, `{"error":"no full-text index: search.engine is \"none\""}`, http.StatusNotFound)
			return
		}
		writeJSON(w, s.svc.Stats())
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// iscHTTPClient is the client for converter hosts and Tika: the system's
// roots, or isc.ca_file's.
func iscHTTPClient(c config.ISC) (*http.Client, error) {
	if c.CAFile == "" {
		return &http.Client{}, nil
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("isc.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("isc.ca_file: no PEM certificate in " + c.CAFile)
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: t}, nil
}

// queueGroups names the index queues this host sweeps: "" (users without
// a mailHost), and its store affinity group's name and hosts, which a
// user's mailHost may name.
func queueGroups(cfg Config) []string {
	out := []string{""}
	self := strings.ToLower(cfg.Server.Hostname)
	for g, hosts := range cfg.Store.StoreHostList {
		mine := false
		for _, h := range hosts {
			mine = mine || strings.ToLower(config.HostPart(h)) == self
		}
		if !mine {
			continue
		}
		out = append(out, g)
		for _, h := range hosts {
			out = append(out, h)
			if hp := config.HostPart(h); hp != h {
				out = append(out, hp)
			}
		}
	}
	return out
}
