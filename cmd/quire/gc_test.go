package main

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/quiremail/quire/internal/config"
)

// TestTuneGC: server.gc_percent and server.memory_limit reach the
// runtime, and GOGC or GOMEMLIMIT in the environment win over them.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	cfg := config.Default()
	cfg.Server.GCPercent, cfg.Server.MemoryLimit = 300, 512*config.MiB
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	tuneGC(cfg, slog.New(slog.DiscardHandler))
	if gc, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); gc != 300 || lim != 512<<20 {
		t.Fatalf("gc_percent %d, memory_limit %d; want 300 and %d", gc, lim, 512<<20)
	}
	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1TiB")
	tuneGC(cfg, slog.New(slog.DiscardHandler))
	if gc, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); gc != 100 || lim != 1<<40 {
		t.Fatalf("with GOGC and GOMEMLIMIT set: gc_percent %d, memory_limit %d; the config overrode the environment", gc, lim)
	}
}
