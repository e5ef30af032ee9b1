package main

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// tuneGC applies server.gc_percent and server.memory_limit to the Go
// runtime, unless GOGC or GOMEMLIMIT set them for this process (an
// operator's environment wins over the file), and logs what it set.
func tuneGC(cfg Config, log *slog.Logger) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(cfg.Server.GCPercent)
	}
	if lim := int64(cfg.Server.MemoryLimit); lim > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(lim)
	}
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	log.Debug("garbage collector", "gc_percent", gc, "memory_limit", debug.SetMemoryLimit(-1))
}
