package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
)

// httpHandler serves the http.listen address, for operators and their
// tools. Invariant: only the probes, GET /healthz and GET /readyz, answer
// without the admin token, and GET /metrics when http.metrics_public is
// set; everything else (the admin API, reindexing, the statistics, the status
// page, the profiler, freeing memory) goes through adminapi.RequireToken. The
// statistics are not public because the converter's name converter hosts
// and the last failure (which can quote an attachment's name), and the
// indexer's counts and lag describe the mail traffic; the profiler and
// freeing memory cost CPU on demand and show the heap's contents.
func httpHandler(o operatorHTTP) http.Handler {
	private := http.NewServeMux()
	private.Handle("/admin/", adminapi.Handler(adminapi.Local(o.st), o.token))
	private.Handle("POST /admin/reindex", reindexHandler(o.ss, o.st))
	private.Handle("POST /admin/purge", purgeHandler(o.st))
	private.Handle("POST /admin/check", checkHandler(o.ss, o.st))
	o.ss.handle(private)
	private.HandleFunc("GET /server/statistics", panicsHandler(o.st, o.ss, o.mesh))
	if o.status != nil {
		private.Handle("GET /status", o.status)
	}
	private.HandleFunc("/debug/pprof/", pprof.Index)
	private.HandleFunc("/debug/pprof/profile", pprof.Profile)
	private.HandleFunc("/debug/pprof/trace", pprof.Trace)
	private.HandleFunc("POST /debug/memory/free", freeMemory)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", o.ready.handler(readyChecks(o.st, o.dir, o.ss, o.mesh)))
	handleMetrics(mux, private, o.metrics, o.metricsPublic)
	mux.Handle("/", adminapi.RequireToken(o.token, private))
	return mux
}

// operatorHTTP is what serve's HTTP listener serves.
type operatorHTTP struct {
	st    *store.Store
	ss    *searchStack
	mesh  *notify.Mesh // nil on a single host
	dir   entryFinder  // the external directory (LDAP); nil: the store's own
	token string
	ready *readiness
	// metrics is GET /metrics (nil: none); public serves it without the
	// token (http.metrics_public).
	metrics       http.Handler
	metricsPublic bool
	// status is GET /status, the operator's page (nil: none).
	status http.Handler
}

// healthz is GET /healthz: the process is alive and answers HTTP. It
// checks nothing else on purpose: an orchestrator restarts a process
// whose liveness probe fails, and a restart cures no dependency; those
// are /readyz's.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, `{"status":"alive"}`)
}

// handleMetrics puts GET /metrics on the public mux, or on the private
// one behind the admin token.
func handleMetrics(public, private *http.ServeMux, h http.Handler, isPublic bool) {
	switch {
	case h == nil:
	case isPublic:
		public.Handle("GET /metrics", h)
	default:
		private.Handle("GET /metrics", h)
	}
}

// freeMemory collects garbage, returns every free page to the OS and
// answers the Go runtime's memory figures as JSON, so that a measurement of
// the process's resident memory (bench/imapidle) sees what is in use and
// not what the runtime happens to retain.
func freeMemory(w http.ResponseWriter, _ *http.Request) {
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	writeJSON(w, map[string]uint64{
		"heap_inuse": m.HeapInuse, "stack_inuse": m.StackInuse, "sys": m.Sys,
		"heap_released": m.HeapReleased, "goroutines": uint64(runtime.NumGoroutine()),
	})
}

// adminToken makes a fresh admin token for this server and writes it
// where the admin commands and operators' tools find it: tokenPath, mode
// 0600. With no such path (Cassandra without http.admin_token_file, where
// the admin commands work on the cluster directly) the token stays in
// memory. The file is replaced by a rename, so a reader sees the old
// token or the new one, never a part.
func adminToken(cfg Config) (string, error) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	path := tokenPath(cfg)
	if path == "" {
		return tok, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("admin token: %w (check http.admin_token_file or store.datadir)", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".admin.token-*")
	if err != nil {
		return "", fmt.Errorf("admin token: %w (check http.admin_token_file or store.datadir)", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(tok + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return "", fmt.Errorf("admin token: write %s: %w", path, err)
	}
	return tok, nil
}

// tokenPath is where serve writes the admin token: http.admin_token_file,
// else the embedded store's data directory; "" for none.
func tokenPath(cfg Config) string {
	switch {
	case cfg.HTTP.AdminTokenFile != "":
		return cfg.HTTP.AdminTokenFile
	case cfg.Store.DBType == "embedded":
		return filepath.Join(cfg.Store.DataDir, "admin.token")
	}
	return ""
}

// readToken reads the token serve wrote to tokenPath.
func readToken(cfg Config) (string, error) {
	path := tokenPath(cfg)
	if path == "" {
		return "", errors.New("no admin token file: set http.admin_token_file, restart the server, and read the token there")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("admin token: %w (serve writes it at start; is the server running with this configuration?)", err)
	}
	return strings.TrimSpace(string(b)), nil
}
