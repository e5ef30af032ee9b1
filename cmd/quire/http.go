package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/store"
)

// httpHandler serves health, the admin API, the converter's and the
// indexer's statistics and profiling, for operators on the http.listen
// address.
func httpHandler(st *store.Store, ss *searchStack, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("/admin/", adminapi.Handler(adminapi.Local(st), token))
	ss.handle(mux)
	mux.Handle("POST /admin/reindex", reindexHandler(ss, st, token))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("POST /debug/memory/free", freeMemory)
	return mux
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

// adminToken makes a fresh admin token for this server and, on the embedded
// store, writes it where the admin commands find it (the data directory,
// mode 0600). On Cassandra the admin commands work on the cluster directly,
// so the token stays in memory and nothing is written on the host.
func adminToken(cfg Config) (string, error) {
	var b [24]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	if cfg.Store.DBType != "embedded" {
		return tok, nil
	}
	path := tokenPath(cfg)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("admin token: write %s: %w", path, err)
	}
	return tok, nil
}

func tokenPath(cfg Config) string { return filepath.Join(cfg.Store.DataDir, "admin.token") }
